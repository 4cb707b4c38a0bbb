// The tuning directives as the renderer writes them, read by the
// redis-server of this machine: io-threads, CPU pinning of the threads, and
// extra directives (several values in one quoted argument, names in any case).
import { mkdtempSync, readdirSync, readFileSync } from "fs";
import { cpus, tmpdir } from "os";
import { join } from "path";
import { Redis } from "ioredis";
import { BUILTIN_USERS, dataNodeUsers, renderAclFile, renderRedisConf } from "../../lib/boot";
import { resolveRedisConf } from "../../lib/options";
import { freePort, testNeeding, testUnlessMissing, toolAvailable } from "../helpers";
import { LocalRedis } from "./local-redis";

const it = testNeeding(["redis-server"]);
// Pinning to CPU 1 needs a second CPU (this kind of machine has 2).
const itWithTwoCpus = testUnlessMissing(cpus().length < 2 ? "a second CPU" : undefined);

const PASSWORDS = Object.fromEntries(Object.values(BUILTIN_USERS).map((user) => [user, `pw-${user}-0123456789`]));

/** The CPUs a thread of `pid` may run on, from /proc, by thread name (Redis names its threads). */
function cpusOfThreads(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
    const allowed = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"))?.[1] ?? "";
    out[tid === String(pid) ? "main" : name] = allowed;
  }
  return out;
}

describe("tuning directives on a real redis-server", () => {
  let local: LocalRedis | undefined;
  let port = 0;
  let pid = 0;
  let admin: Redis | undefined;

  beforeAll(async () => {
    if (!toolAvailable("redis-server")) return;
    local = new LocalRedis(mkdtempSync(join(tmpdir(), "redis-tuning-")));
    port = await freePort();
    const settings = resolveRedisConf(
      {
        port,
        ioThreads: 2,
        cpuPinning: { server: "1", bio: "0", aofRewrite: "0-1:1", bgsave: "0" },
        extraDirectives: { "io-threads-do-reads": "yes", "oom-score-adj-values": "0 200 800", "latency-tracking-info-percentiles": "50 99 99.9", Hz: "20" },
      },
      { nodeAddress: "127.0.0.1", maxMemory: "64mb", ioThreads: 1 },
    );
    const conf = local.renderWithBootScript("redis.conf", renderRedisConf(settings), PASSWORDS);
    const acl = local.renderWithBootScript("users.acl", renderAclFile(dataNodeUsers([], false)), PASSWORDS);
    const server = await local.start(conf, port, ["--aclfile", acl]);
    pid = server.process.pid!;
    const login = { username: BUILTIN_USERS.admin, password: PASSWORDS[BUILTIN_USERS.admin] };
    admin = local.track(new Redis({ host: "127.0.0.1", port, ...login, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null }));
    await admin.connect();
  }, 30_000);

  afterAll(async () => {
    await local?.stop();
  });

  const get = async (name: string) => ((await admin!.config("GET", name)) as string[])[1];

  it("io-threads and the CPU lists are Redis' settings", async () => {
    expect(await get("io-threads")).toBe("2");
    expect(await get("server_cpulist")).toBe("1");
    expect(await get("bio_cpulist")).toBe("0");
    expect(await get("aof_rewrite_cpulist")).toBe("0-1:1");
    expect(await get("bgsave_cpulist")).toBe("0");
  });

  it("extra directives: each value one argument, several values in it, a name in upper case", async () => {
    expect(await get("io-threads-do-reads")).toBe("yes");
    expect(await get("oom-score-adj-values")).toBe("0 200 800");
    expect(await get("latency-tracking-info-percentiles")).toBe("50 99 99.9");
    expect(await get("hz")).toBe("20");
  });

  itWithTwoCpus("the main and I/O threads run on CPU 1 only, the background threads on CPU 0", () => {
    const threads = cpusOfThreads(pid);
    expect(threads.main).toBe("1");
    const io = Object.entries(threads).filter(([name]) => name.startsWith("io_thd"));
    const bio = Object.entries(threads).filter(([name]) => name.startsWith("bio_"));
    expect(io.length).toBeGreaterThan(0);
    expect(bio.length).toBeGreaterThan(0);
    for (const [, allowed] of io) expect(allowed).toBe("1");
    for (const [, allowed] of bio) expect(allowed).toBe("0");
  });
});
