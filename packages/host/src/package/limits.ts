/** Package bounds, as in Yoi (1.1, 1.4, 2.2). */
export const PACKAGE_LIMITS = {
  /** Size of a `.yoi-plugin` archive file. */
  maxArchiveBytes: 16 * 1024 * 1024,
  /** Entries (files) in one package. */
  maxEntries: 512,
  /** Size of one file in a package. */
  maxFileBytes: 8 * 1024 * 1024,
  /** Sum of all file sizes in a package. */
  maxExpandedBytes: 64 * 1024 * 1024,
  /** Size of `plugin.toml`. */
  maxManifestBytes: 64 * 1024,
  /** `.yoi-plugin` candidates considered in one store. */
  maxPackagesPerStore: 128,
} as const;

/** Files of a package: normalised relative path → content. */
export type PackageFiles = ReadonlyMap<string, Uint8Array>;
