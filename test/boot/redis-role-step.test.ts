// The redis-role step's decision (redis-server's ExecStartPre), run for real
// in bash against a stand-in redis-cli that answers SENTINEL MASTER per
// sentinel address as a scripted sequence: which role redis.conf gets, what
// the log says, and that every wait ends.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { spawnSync } from "child_process";
import { tmpdir } from "os";
import { join, resolve } from "path";

const STEP = resolve(__dirname, "../../lib/boot/parts/assets/redis-role.sh");
const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");
const SELF = "10.0.1.10";
const A = "10.0.2.10";
const B = "10.0.3.10";

// Answers are read from <dir>/answers/<host>.<call number>, else <host>;
// no file: the sentinel does not answer. Each call is logged with its
// login (user, REDISCLI_AUTH, TLS files).
const FAKE_CLI = `#!/bin/bash
dir=\${FAKE_DIR:?}
host="" tls=no user=""
while (($#)); do
  case $1 in
    -h) host=$2; shift ;;
    --user) user=$2; shift ;;
    --tls) tls=yes ;;
    --cert) cert=$2; shift ;;
    -p|--cacert|--key) shift ;;
    *) args+=("$1") ;;
  esac
  shift
done
n=$(( $(cat "$dir/calls.$host" 2>/dev/null || echo 0) + 1 ))
echo "$n" >"$dir/calls.$host"
echo "$host user=$user auth=$REDISCLI_AUTH tls=$tls cert=\${cert:-} \${args[*]}" >>"$dir/calls.log"
for file in "$dir/answers/$host.$n" "$dir/answers/$host"; do
  if [[ -f $file ]]; then cat "$file"; exit 0; fi
done
echo "Could not connect to Redis at $host:26379: Connection refused" >&2
exit 1
`;

/** SENTINEL MASTER's reply as redis-cli prints it to a pipe: key and value lines. */
function masterReply(ip: string, epoch: number, replicas: number): string {
  const fields: [string, string | number][] = [
    ["name", "main"], ["ip", ip], ["port", 6379], ["runid", "abc"], ["flags", "master"], ["config-epoch", epoch], ["num-slaves", replicas], ["num-other-sentinels", 2], ["quorum", 2],
  ];
  return fields.map(([k, v]) => `${k}\n${v}\n`).join("");
}
const NO_SUCH_MASTER = "ERR No such master with that name\n";

interface Setup {
  planned: "master" | "replica";
  /** replicaof line of redis.conf, or none. */
  replicaof?: string;
  /** What the data directory holds: dump.rdb, an AOF (appendonlydir with a base file), an empty appendonlydir. */
  data?: boolean | "aof" | "empty-aof-dir";
  /** host -> reply, or host.N -> reply of the N-th call. */
  answers: Record<string, string>;
  tls?: boolean;
  askSeconds?: number;
  waitSeconds?: number;
  /** ROLE_SENTINELS. @default this node and A and B */
  sentinels?: string;
  /** ROLE_USER with its password file (a data node of dedicated sentinels: no sentinel.conf). @default - sentinel.conf's login */
  login?: { user: string; password: string };
}

interface Outcome {
  status: number | null;
  stderr: string;
  replicaof: string[];
  conf: string;
  calls: string[];
  decision?: string;
  mode: number;
}

function decide(s: Setup): Outcome {
  const dir = mkdtempSync(join(tmpdir(), "redis-role-"));
  try {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "redis-cli"), FAKE_CLI, { mode: 0o755 });
    mkdirSync(join(dir, "answers"));
    for (const [host, reply] of Object.entries(s.answers)) writeFileSync(join(dir, "answers", host), reply);
    const data = join(dir, "data");
    mkdirSync(data);
    if (s.data === true) writeFileSync(join(data, "dump.rdb"), "REDIS0010...");
    if (s.data === "aof" || s.data === "empty-aof-dir") mkdirSync(join(data, "appendonlydir"));
    if (s.data === "aof") writeFileSync(join(data, "appendonlydir", "appendonly.aof.1.base.rdb"), "REDIS0010...");
    const conf = join(dir, "redis.conf");
    writeFileSync(conf, ["bind 10.0.1.10 127.0.0.1", "port 0", ...(s.tls ? ["tls-port 6379"] : []), ...(s.replicaof ? [`replicaof ${s.replicaof}`] : []), "replica-read-only yes", ""].join("\n"));
    chmodSync(conf, 0o640);
    const sentinelConf = join(dir, "sentinel.conf");
    const passwordFile = join(dir, "role.password");
    if (s.login) writeFileSync(passwordFile, s.login.password, { mode: 0o600 });
    else writeFileSync(sentinelConf, [...(s.tls ? ["tls-port 26379"] : ["port 26379"]), "sentinel sentinel-user sentinel-peer", 'sentinel sentinel-pass "Peer.pw+1"', ""].join("\n"));
    const env = join(dir, "node.env");
    writeFileSync(env, [
      `ROLE_SELF='${SELF}'`, `ROLE_PLANNED='${s.planned}'`, `ROLE_SENTINELS='${s.sentinels ?? `${SELF} ${A} ${B}`}'`, "ROLE_SENTINEL_PORT='26379'", "ROLE_MASTER_NAME='main'",
      `ROLE_ASK_SECONDS='${s.askSeconds ?? 1}'`, `ROLE_WAIT_SECONDS='${s.waitSeconds ?? 3}'`, "TLS_DIR='/etc/redis/tls'", "DATA_DIR='/var/lib/redis'", "REDIS_PORT='6379'",
      ...(s.login ? [`ROLE_USER='${s.login.user}'`, `ROLE_PASSWORD_FILE='${passwordFile}'`] : []), "",
    ].join("\n"));
    const state = join(dir, "state");
    const r = spawnSync("bash", [STEP, "decide"], {
      encoding: "utf8",
      timeout: 60_000,
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        FAKE_DIR: dir,
        REDIS_NODE_LIB: BOOT_LIB,
        REDIS_NODE_ENV: env,
        REDIS_NODE_STATE_DIR: state,
        REDIS_NODE_REDIS_CONF: conf,
        REDIS_NODE_SENTINEL_CONF: sentinelConf,
        REDIS_NODE_DATA_DIR: data,
        REDIS_NODE_TLS_DIR: join(dir, "tls"),
      },
    });
    const text = readFileSync(conf, "utf8");
    const decisionFile = join(state, "role-decision");
    return {
      status: r.status,
      stderr: r.stderr,
      conf: text,
      replicaof: text.split("\n").filter((l) => /^(replicaof|slaveof) /.test(l)),
      calls: existsSync(join(dir, "calls.log")) ? readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n") : [],
      decision: existsSync(decisionFile) ? readFileSync(decisionFile, "utf8").trim().replace(/^\S+ /, "") : undefined,
      mode: statSync(conf).mode & 0o777,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("redis-role decide", () => {
  test("another node is master for the sentinels: replica of it, before Redis starts, the file's mode kept", () => {
    const r = decide({ planned: "master", answers: { [A]: masterReply(B, 1, 2), [B]: masterReply(B, 1, 2) } });
    expect(r.status).toBe(0);
    expect(r.replicaof).toEqual([`replicaof ${B} 6379`]);
    expect(r.conf).toContain("replica-read-only yes");
    expect(r.mode).toBe(0o640);
    expect(r.stderr).toContain(`redis-node-setup: role: starting as replica of ${B}:6379: the sentinels name ${B}:6379 as master (config epoch 1, 2 answered)`);
    expect(r.decision).toBe(`replica of ${B}:6379: the sentinels name ${B}:6379 as master (config epoch 1, 2 answered)`);
  });

  test("asks only the other nodes' sentinels, as sentinel-peer with the password of the node's sentinel.conf, over TLS with the node's certificate", () => {
    const r = decide({ planned: "replica", replicaof: `${A} 6379`, tls: true, answers: { [A]: masterReply(A, 0, 1), [B]: masterReply(A, 0, 1) } });
    expect(r.status).toBe(0);
    expect(r.calls.map((c) => c.split(" ")[0]).sort()).toEqual([A, B]);
    for (const call of r.calls) expect(call).toMatch(/ user=sentinel-peer auth=Peer\.pw\+1 tls=yes cert=\S+\/tls\/node\.crt --no-auth-warning SENTINEL MASTER main$/);
  });

  test("a data node of dedicated sentinels (no sentinel.conf): asks every sentinel as ROLE_USER with the password of ROLE_PASSWORD_FILE", () => {
    const r = decide({ planned: "replica", replicaof: `${A} 6379`, tls: true, sentinels: `${A} ${B}`, login: { user: "sentinel-client", password: "Client.pw+2" }, answers: { [A]: masterReply(B, 3, 2), [B]: masterReply(B, 3, 2) } });
    expect(r.status).toBe(0);
    expect(r.calls.map((c) => c.split(" ")[0]).sort()).toEqual([A, B]);
    for (const call of r.calls) expect(call).toMatch(/ user=sentinel-client auth=Client\.pw\+2 tls=yes cert=\S+\/tls\/node\.crt --no-auth-warning SENTINEL MASTER main$/);
    expect(r.replicaof).toEqual([`replicaof ${B} 6379`]);
  });

  test("a data node of dedicated sentinels whose password the sentinels refuse: each refusal logged; the empty planned master does not start, naming the password file", () => {
    const wrongpass = "AUTH failed: WRONGPASS invalid username-password pair or user is disabled.\nNOAUTH Authentication required.\n";
    const r = decide({ planned: "master", sentinels: `${A} ${B}`, login: { user: "sentinel-client", password: "old" }, askSeconds: 1, waitSeconds: 2, answers: { [A]: wrongpass, [B]: wrongpass } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`role: the sentinel at ${A}:26379 refuses: AUTH failed: WRONGPASS invalid username-password pair`);
    expect(r.stderr).toMatch(/ERROR: role: 2 sentinel\(s\) refused SENTINEL MASTER to user sentinel-client \(see above\) and none answered in 2s: not starting this empty node as master while the sentinels run\. Check the password in \S+role\.password/);
    expect(r.decision).toBeUndefined();
  });

  test("a data node of dedicated sentinels whose password file is empty: refuses to start before asking anyone, saying how to fetch it again", () => {
    const r = decide({ planned: "replica", replicaof: `${A} 6379`, sentinels: `${A} ${B}`, login: { user: "sentinel-client", password: "" }, answers: { [A]: masterReply(A, 1, 2) } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ERROR: role: cannot read \S+role\.password, the password of sentinel-client that asks the sentinels, or it is empty \(rerun \/usr\/local\/sbin\/redis-node-boot/);
    expect(r.calls).toEqual([]);
    expect(r.replicaof).toEqual([`replicaof ${A} 6379`]);
  });

  test("the newest view wins (highest config epoch), whatever the count", () => {
    const r = decide({ planned: "master", answers: { [A]: masterReply(SELF, 0, 2), [B]: masterReply(A, 3, 2) } });
    expect(r.replicaof).toEqual([`replicaof ${A} 6379`]);
  });

  test("named master with data (a restart quicker than failure detection): master, a stale replicaof taken out", () => {
    const r = decide({ planned: "replica", replicaof: `${A} 6379`, data: true, answers: { [A]: masterReply(A, 1, 2), [B]: masterReply(SELF, 2, 2) } });
    expect(r.status).toBe(0);
    expect(r.replicaof).toEqual([]);
    expect(r.decision).toBe("master: the sentinels name this node as master (config epoch 2) and it holds data");
  });

  test.each([
    { data: "aof" as const, role: "master" },
    { data: "empty-aof-dir" as const, role: "none yet: waits" },
  ])("named master with replicas known, data directory $data: $role", ({ data }) => {
    const r = decide({ planned: "master", data, waitSeconds: 1, answers: { [A]: masterReply(SELF, 2, 2), [B]: masterReply(SELF, 2, 2) } });
    if (data === "aof") expect(r.decision).toBe("master: the sentinels name this node as master (config epoch 2) and it holds data");
    else expect(r.status).toBe(1);
  });

  test("named master, empty, no replica known (the group's first start): master", () => {
    const r = decide({ planned: "master", answers: { [A]: masterReply(SELF, 0, 0), [B]: masterReply(SELF, 0, 0) } });
    expect(r.status).toBe(0);
    expect(r.replicaof).toEqual([]);
    expect(r.decision).toContain("know no replica of it: nothing to lose");
  });

  test("named master, empty, replicas known (a replaced master): waits until the sentinels promote one, then its replica", () => {
    const r = decide({
      planned: "master",
      waitSeconds: 20,
      answers: { [`${A}.1`]: masterReply(SELF, 0, 2), [`${A}.2`]: masterReply(SELF, 0, 2), [A]: masterReply(B, 1, 2), [B]: masterReply(SELF, 0, 2) },
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("but it is empty and they know 2 replica(s) that may hold data: waiting for them to promote one");
    expect(r.replicaof).toEqual([`replicaof ${B} 6379`]);
  });

  test("named master, empty, replicas known, no failover in the bounded wait: refuses to start, redis.conf untouched", () => {
    const r = decide({ planned: "master", waitSeconds: 2, answers: { [A]: masterReply(SELF, 0, 2), [B]: masterReply(SELF, 0, 2) } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("ERROR: role: the sentinels still name this empty node as master after 2s and know 2 replica(s) of it: not starting redis-server as an empty master");
    expect(r.replicaof).toEqual([]);
    expect(r.decision).toBeUndefined();
    // Bounded: one call a second per sentinel, and no more.
    expect(r.calls.length).toBeLessThanOrEqual(2 * 4);
  });

  test.each([
    { planned: "master" as const, replicaof: undefined, expected: [] as string[], why: "this node is the planned master" },
    { planned: "replica" as const, replicaof: `${A} 6379`, expected: [`replicaof ${A} 6379`], why: "as redis.conf says" },
  ])("no sentinel knows a master: the planned $planned keeps its planned role", ({ planned, replicaof, expected, why }) => {
    const r = decide({ planned, replicaof, answers: { [A]: NO_SUCH_MASTER, [B]: NO_SUCH_MASTER } });
    expect(r.status).toBe(0);
    expect(r.replicaof).toEqual(expected);
    expect(r.decision).toContain(why);
  });

  test("a group whose only sentinel is this node's: no one to ask, no wait; the empty planned master starts as master", () => {
    const r = decide({ planned: "master", sentinels: SELF, waitSeconds: 30, answers: {} });
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([]);
    expect(r.decision).toBe("master: no other sentinel in the group to ask: as redis.conf says");
  });

  test("sentinels that refuse SENTINEL MASTER (made by an older version): the empty planned master does not start, the message says how to grant it", () => {
    const noperm = "NOPERM User sentinel-peer has no permissions to run the 'sentinel|master' command\n";
    const r = decide({ planned: "master", askSeconds: 1, waitSeconds: 2, answers: { [A]: noperm, [B]: noperm } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`role: the sentinel at ${A}:26379 refuses: NOPERM`);
    expect(r.stderr).toContain("ERROR: role: 2 sentinel(s) refused SENTINEL MASTER to user sentinel-peer (see above) and none answered in 2s: not starting this empty node as master");
    expect(r.stderr).toContain("ACL SETUSER sentinel-peer +sentinel|master, then SENTINEL FLUSHCONFIG");
    expect(r.decision).toBeUndefined();
  });

  test("no sentinel answers: a replica follows its redis.conf after ROLE_ASK_SECONDS", () => {
    const r = decide({ planned: "replica", replicaof: `${A} 6379`, askSeconds: 1, waitSeconds: 30, answers: {} });
    expect(r.status).toBe(0);
    expect(r.replicaof).toEqual([`replicaof ${A} 6379`]);
    expect(r.decision).toMatch(/^replica of 10\.0\.2\.10:6379: no sentinel answered in \ds: as redis\.conf says$/);
    expect(r.stderr).toContain(`no answer from the sentinel at ${A}:26379: Could not connect`);
  });

  test("no sentinel answers: the empty planned master waits ROLE_WAIT_SECONDS, then starts as master (the group's first boot)", () => {
    const r = decide({ planned: "master", askSeconds: 1, waitSeconds: 2, answers: {} });
    expect(r.status).toBe(0);
    expect(r.replicaof).toEqual([]);
    expect(r.decision).toBe("master: no sentinel answered in 2s and this node is the planned master (the group's first start)");
  });

  test("no sentinel answers: an empty node that redis.conf makes a master it was not planned to be refuses to start", () => {
    const r = decide({ planned: "replica", askSeconds: 1, waitSeconds: 2, answers: {} });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("ERROR: role: no sentinel answered in 2s, and this empty node's redis.conf makes it a master it was not planned to be");
  });
});
