import { readFileSync } from "fs";
import { join } from "path";
import { ownedDirectiveProblem, ownedRedisDirectives, passwordPlaceholder, REDIS_PATHS, renderRedisConf, TLS_PATHS } from "../../lib/boot";
import { directiveArgs, directivesNamed, masterConfSettings, parseRedisConf, ParsedDirective, redisConfSettings } from "../helpers";

describe("renderRedisConf", () => {
  const replica = parseRedisConf(renderRedisConf(redisConfSettings()));
  const master = parseRedisConf(renderRedisConf(masterConfSettings()));
  const arg = (parsed: ParsedDirective[], name: string, sub?: string) => directiveArgs(parsed, name, sub);

  test("binds the node's own address and loopback, on the port, protected", () => {
    expect(arg(replica, "bind")).toEqual(["10.0.1.11", "127.0.0.1"]);
    expect(arg(replica, "port")).toEqual(["6379"]);
    expect(arg(replica, "protected-mode")).toEqual(["yes"]);
  });

  test("binds extra addresses after the node's own", () => {
    const parsed = parseRedisConf(renderRedisConf(redisConfSettings({ extraBindAddresses: ["10.9.9.9"], port: 7000 })));
    expect(arg(parsed, "bind")).toEqual(["10.0.1.11", "127.0.0.1", "10.9.9.9"]);
    expect(arg(parsed, "port")).toEqual(["7000"]);
  });

  test("users come from the ACL file; replicas log in as the replication user, its password a placeholder in double quotes", () => {
    const text = renderRedisConf(redisConfSettings());
    expect(directivesNamed(replica, "requirepass")).toEqual([]);
    expect(arg(replica, "aclfile")).toEqual([REDIS_PATHS.aclFile]);
    expect(arg(replica, "masteruser")).toEqual(["replication"]);
    expect(arg(replica, "masterauth")).toEqual([passwordPlaceholder("replication")]);
    // The boot script substitutes inside these quotes: they must be there.
    expect(text).toContain(`\nmasterauth "${passwordPlaceholder("replication")}"\n`);
  });

  test("protected configs, DEBUG and MODULE stay off for every user", () => {
    for (const name of ["enable-protected-configs", "enable-debug-command", "enable-module-command"]) expect(arg(master, name)).toEqual(["no"]);
  });

  test("replicaof is present on a replica only, naming the master", () => {
    expect(arg(replica, "replicaof")).toEqual(["10.0.1.10", "6379"]);
    expect(directivesNamed(master, "replicaof")).toEqual([]);
    expect(directivesNamed(master, "slaveof")).toEqual([]);
  });

  test("replicaof uses the master's port when it differs", () => {
    const parsed = parseRedisConf(renderRedisConf(redisConfSettings({ port: 7000, masterPort: 7001 })));
    expect(arg(parsed, "replicaof")).toEqual(["10.0.1.10", "7001"]);
  });

  test("announces the node's own address to the master", () => {
    expect(arg(replica, "replica-announce-ip")).toEqual(["10.0.1.11"]);
    expect(arg(master, "replica-announce-ip")).toEqual(["10.0.1.10"]);
  });

  test("connection limits", () => {
    const parsed = parseRedisConf(renderRedisConf(redisConfSettings({ tcpBacklog: 4000, maxClients: 2500 })));
    expect(arg(parsed, "tcp-backlog")).toEqual(["4000"]);
    expect(arg(parsed, "maxclients")).toEqual(["2500"]);
  });

  test("persistence: save schedule and append-only file", () => {
    expect(arg(replica, "save")).toEqual(["3600", "1", "300", "100", "60", "10000"]);
    expect(arg(replica, "appendonly")).toEqual(["no"]);
    const aof = parseRedisConf(renderRedisConf(redisConfSettings({ snapshotSchedule: "", appendOnly: true, appendFsync: "always" })));
    expect(arg(aof, "save")).toEqual([""]);
    expect(arg(aof, "appendonly")).toEqual(["yes"]);
    expect(arg(aof, "appendfsync")).toEqual(["always"]);
  });

  test("a save schedule with extra spaces still gives one argument per number", () => {
    const parsed = parseRedisConf(renderRedisConf(redisConfSettings({ snapshotSchedule: " 900  1 " })));
    expect(arg(parsed, "save")).toEqual(["900", "1"]);
  });

  test("memory", () => {
    const parsed = parseRedisConf(renderRedisConf(redisConfSettings({ maxMemory: "2gb", maxMemoryPolicy: "allkeys-lru" })));
    expect(arg(parsed, "maxmemory")).toEqual(["2gb"]);
    expect(arg(parsed, "maxmemory-policy")).toEqual(["allkeys-lru"]);
  });

  test("replication buffers and write safety", () => {
    const parsed = parseRedisConf(
      renderRedisConf(
        redisConfSettings({
          replBacklogSize: "64mb",
          replicaOutputBufferHardLimit: "2gb",
          replicaOutputBufferSoftLimit: "512mb",
          replicaOutputBufferSoftSeconds: 60,
          minReplicasToWrite: 2,
          minReplicasMaxLag: 5,
          replicaPriority: 0,
        }),
      ),
    );
    expect(arg(parsed, "repl-backlog-size")).toEqual(["64mb"]);
    expect(directivesNamed(parsed, "client-output-buffer-limit")).toEqual([["replica", "2gb", "512mb", "60"]]);
    expect(arg(parsed, "min-replicas-to-write")).toEqual(["2"]);
    expect(arg(parsed, "min-replicas-max-lag")).toEqual(["5"]);
    expect(arg(parsed, "replica-priority")).toEqual(["0"]);
    expect(arg(parsed, "replica-read-only")).toEqual(["yes"]);
  });

  test("runs under systemd with the Debian package's paths", () => {
    expect(arg(replica, "supervised")).toEqual(["systemd"]);
    expect(arg(replica, "daemonize")).toEqual(["no"]);
    expect(arg(replica, "logfile")).toEqual(["/var/log/redis/redis-server.log"]);
    expect(arg(replica, "dir")).toEqual([REDIS_PATHS.dataDir]);
    expect(arg(replica, "pidfile")).toEqual([REDIS_PATHS.redisPid]);
  });

  test("writes every directive once", () => {
    const names = replica.map((d) => d.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  test("Terraform references pass through as the node and master addresses", () => {
    const node = "${aws_network_interface.n.private_ip}";
    const masterRef = "${aws_network_interface.m.private_ip}";
    const parsed = parseRedisConf(renderRedisConf(redisConfSettings({ nodeAddress: node, masterAddress: masterRef })));
    expect(arg(parsed, "bind")[0]).toBe(node);
    expect(arg(parsed, "replicaof")[0]).toBe(masterRef);
  });

  test("with TLS: no plaintext port, the TLS port with the node's files, TLS to the master, TLS 1.2+", () => {
    const tls = parseRedisConf(renderRedisConf(redisConfSettings({ port: 7000, tls: { requireClientCertificates: false } })));
    expect(arg(tls, "port")).toEqual(["0"]);
    expect(arg(tls, "tls-port")).toEqual(["7000"]);
    expect([arg(tls, "tls-cert-file"), arg(tls, "tls-key-file"), arg(tls, "tls-ca-cert-file")]).toEqual([
      [TLS_PATHS.certificate],
      [TLS_PATHS.key],
      [TLS_PATHS.caCertificate],
    ]);
    expect(arg(tls, "tls-replication")).toEqual(["yes"]);
    expect(arg(tls, "tls-auth-clients")).toEqual(["optional"]);
    expect(arg(tls, "tls-protocols")).toEqual(["TLSv1.2 TLSv1.3"]);
    expect(arg(tls, "tls-prefer-server-ciphers")).toEqual(["yes"]);
    const required = parseRedisConf(renderRedisConf(redisConfSettings({ tls: { requireClientCertificates: true } })));
    expect(arg(required, "tls-auth-clients")).toEqual(["yes"]);
    const names = tls.map((d) => d.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  test("without TLS: `port` and not one tls-* directive", () => {
    expect(replica.filter((d) => d.name.startsWith("tls-"))).toEqual([]);
    expect(renderRedisConf(redisConfSettings({ tls: undefined }))).toBe(renderRedisConf(redisConfSettings()));
  });
});

describe("tuned to the instance", () => {
  const parse = (overrides: Parameters<typeof redisConfSettings>[0]) => parseRedisConf(renderRedisConf(redisConfSettings(overrides)));

  test("io-threads as given: a number, or the Terraform expression of the vCPUs", () => {
    expect(directiveArgs(parse({ ioThreads: 1 }), "io-threads")).toEqual(["1"]);
    expect(directiveArgs(parse({ ioThreads: 6 }), "io-threads")).toEqual(["6"]);
    const expression = "${min(max(data.aws_ec2_instance_type.t.default_vcpus - 2, 1), 8)}";
    // Quoted (the expression has spaces); Terraform puts the number inside the quotes.
    expect(directiveArgs(parse({ ioThreads: expression }), "io-threads")).toEqual([expression]);
  });

  test("no CPU list unless pinned; each pinned kind on its own directive", () => {
    expect(parse({}).filter((d) => d.name.endsWith("_cpulist"))).toEqual([]);
    const pinned = parse({ cpuPinning: { server: "0-7:2", bio: "1,3", aofRewrite: "8-11", bgsave: "1,10-11" } });
    expect(directiveArgs(pinned, "server_cpulist")).toEqual(["0-7:2"]);
    expect(directiveArgs(pinned, "bio_cpulist")).toEqual(["1,3"]);
    expect(directiveArgs(pinned, "aof_rewrite_cpulist")).toEqual(["8-11"]);
    expect(directiveArgs(pinned, "bgsave_cpulist")).toEqual(["1,10-11"]);
    const onlyBgsave = parse({ cpuPinning: { bgsave: "1" } });
    expect(onlyBgsave.filter((d) => d.name.endsWith("_cpulist")).map((d) => d.name)).toEqual(["bgsave_cpulist"]);
  });

  test("extra directives come last, names in lower case, each value one argument quoted as needed", () => {
    const parsed = parse({ extraDirectives: { Hz: "20", "oom-score-adj-values": "0 200 800", "notify-keyspace-events": "" } });
    expect(parsed.slice(-3)).toEqual([
      { name: "hz", args: ["20"] },
      { name: "oom-score-adj-values", args: ["0 200 800"] },
      { name: "notify-keyspace-events", args: [""] },
    ]);
  });

  describe("the directives the library owns", () => {
    // Independent of the renderer's own sample: every variant a node can get.
    const variants = [
      redisConfSettings(),
      masterConfSettings(),
      redisConfSettings({ tls: { requireClientCertificates: false }, snapshotSchedule: "", appendOnly: true }),
      masterConfSettings({ tls: { requireClientCertificates: true }, extraBindAddresses: ["10.9.9.9"], cpuPinning: { server: "0", bio: "1", aofRewrite: "2", bgsave: "3" } }),
    ];

    test("include every directive the renderer writes, in every variant", () => {
      const owned = ownedRedisDirectives();
      for (const settings of variants) {
        const written = parseRedisConf(renderRedisConf(settings)).map((d) => d.name);
        expect(written.filter((name) => !owned.has(name))).toEqual([]);
        for (const name of written) expect(ownedDirectiveProblem(name)).toContain(`"${name}" is set by the library`);
      }
    });

    test.each(["bind", "port", "tls-port", "requirepass", "masterauth", "masteruser", "aclfile", "user", "replicaof", "replica-announce-ip", "include", "rename-command", "loadmodule", "dir", "io-threads", "server_cpulist"])(
      "%s is owned",
      (name) => expect(ownedDirectiveProblem(name)).toMatch(new RegExp(`^"${name}" is set by the library`)),
    );

    test("in any case, under the old slave names, and by prefix (tls-*, enable-*)", () => {
      expect(ownedDirectiveProblem("BIND")).toMatch(/^"BIND" is set by the library/);
      expect(ownedDirectiveProblem("slaveof")).toMatch(/^"slaveof" is set/);
      expect(ownedDirectiveProblem("SLAVE-ANNOUNCE-IP")).toMatch(/^"SLAVE-ANNOUNCE-IP" is set/);
      expect(ownedDirectiveProblem("min-slaves-to-write")).toMatch(/^"min-slaves-to-write" is set/);
      expect(ownedDirectiveProblem("tls-session-caching")).toMatch(/tls-\* directives/);
      expect(ownedDirectiveProblem("enable-something-new")).toMatch(/enable-\* directives/);
    });

    test("the README lists exactly the owned directives", () => {
      const readme = readFileSync(join(__dirname, "../../README.md"), "utf8");
      const line = /^Owned directives: (.*)\.$/m.exec(readme)?.[1] ?? "";
      const listed = [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
      expect(listed.sort()).toEqual([...ownedRedisDirectives()].sort());
    });

    test.each(["hz", "io-threads-do-reads", "oom-score-adj-values", "latency-tracking-info-percentiles", "lazyfree-lazy-user-del", "slowlog-log-slower-than", "replica-lazy-flush"])(
      "%s is the user's",
      (name) => expect(ownedDirectiveProblem(name)).toBeUndefined(),
    );
  });
});
