// The package's public surface: what users can import from the package root.
// A name added or removed here is a change for users: note it in CHANGELOG.md.
import * as api from "../lib";

test("the package root exports exactly these values (classes, enums)", () => {
  expect(Object.keys(api).sort()).toEqual(
    [
      "AppendFsync",
      "MaxMemoryPolicy",
      "RedisClientCertificate",
      "RedisConnections",
      "RedisNodeRole",
      "RedisPassword",
      "RedisPeer",
      "RedisPortKind",
      "RedisReplicationGroup",
      "RedisReplicationGroupBase",
      "RedisReplicationValidationError",
      "RedisSecurityGroup",
      "RedisUser",
      "SecretStore",
      "TlsCertificateAuthoritySlot",
    ].sort(),
  );
});

test("helpers and internals are not among them", () => {
  const exported = new Set(Object.keys(api));
  for (const internal of ["architectureOf", "lookupDebianAmi", "restartDelayFor", "resolveRedisConf", "config", "RedisNode", "planGroup", "stableKeyOf", "RedisCertificateAuthority", "tlsPart"]) {
    expect({ internal, exported: exported.has(internal) }).toEqual({ internal, exported: false });
  }
});
