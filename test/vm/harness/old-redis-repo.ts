/**
 * An apt repository like the image's, in which redis-server, redis-sentinel
 * and redis-tools are Redis 6.0 (Debian 11's version): stand-in packages
 * whose binaries only answer `--version`, as Redis 6.0.16 does. A VM that
 * gets it installs them at boot through cloud-init's `packages:`, the way a
 * node on an image with an old Redis would.
 */
import * as fs from "fs";
import * as path from "path";
import { run } from "../../integration/harness/netns";

export const OLD_REDIS_VERSION = "6.0.16";
const DEBIAN_VERSION = `5:${OLD_REDIS_VERSION}-1+deb11u2`;

/** The packages and the binaries each one ships. */
const PACKAGES: Record<string, string[]> = {
  "redis-server": ["redis-server"],
  "redis-sentinel": ["redis-sentinel"],
  "redis-tools": ["redis-cli", "redis-benchmark", "redis-check-aof", "redis-check-rdb"],
};

function versionScript(binary: string): string {
  const line = binary === "redis-cli"
    ? `redis-cli ${OLD_REDIS_VERSION}`
    : `Redis server v=${OLD_REDIS_VERSION} sha=00000000:0 malloc=jemalloc-5.2.1 bits=64 build=6d95e1af3a2c082a`;
  return [
    "#!/bin/sh",
    `# Stand-in for ${binary} of Redis ${OLD_REDIS_VERSION}: answers --version, refuses to run.`,
    `case "$1" in -v | --version) echo "${line}"; exit 0 ;; esac`,
    `echo "${binary}: a stand-in of Redis ${OLD_REDIS_VERSION} for tests, it does not run" >&2`,
    "exit 1",
    "",
  ].join("\n");
}

/**
 * Writes the repository into `dir`: the image repository's other packages
 * (linked) and the Redis 6.0 stand-ins, with Packages(.gz) and Release.
 * Returns `dir`.
 */
export async function buildOldRedisRepo(imageRepo: string, dir: string): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  for (const file of fs.readdirSync(imageRepo)) {
    const isRedis = Object.keys(PACKAGES).some((pkg) => file.startsWith(`${pkg}_`));
    if (file.endsWith(".deb") && !isRedis) fs.symlinkSync(path.join(imageRepo, file), path.join(dir, file));
  }
  for (const [pkg, binaries] of Object.entries(PACKAGES)) {
    const root = path.join(dir, `${pkg}.build`);
    fs.mkdirSync(path.join(root, "DEBIAN"), { recursive: true });
    fs.mkdirSync(path.join(root, "usr/bin"), { recursive: true });
    fs.writeFileSync(path.join(root, "DEBIAN/control"), [
      `Package: ${pkg}`,
      `Version: ${DEBIAN_VERSION}`,
      "Architecture: all",
      "Maintainer: redis-replication tests <tests@localhost>",
      `Description: stand-in for ${pkg} ${OLD_REDIS_VERSION} (tests of the Redis version check)`,
      "",
    ].join("\n"));
    for (const binary of binaries) fs.writeFileSync(path.join(root, "usr/bin", binary), versionScript(binary), { mode: 0o755 });
    await run(["dpkg-deb", "--build", "--root-owner-group", root, path.join(dir, `${pkg}_${DEBIAN_VERSION.replace(":", "%3a")}_all.deb`)]);
    fs.rmSync(root, { recursive: true, force: true });
  }
  await run(["sh", "-c", 'cd "$1" && apt-ftparchive packages . >Packages && gzip -9kn Packages && apt-ftparchive release . >Release', "sh", dir]);
  return dir;
}
