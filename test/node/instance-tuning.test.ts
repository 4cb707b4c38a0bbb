import { IO_THREADS_SPARE_VCPUS, ioThreadsRule, MAX_DEFAULT_IO_THREADS, NUMBER_ARITHMETIC, openFilesLimitFor } from "../../lib/node/instance-tuning";

describe("the io-threads rule (the same function builds the Terraform expression)", () => {
  test.each<{ vcpus: number; ioThreads: number }>([
    // Below 4 vCPUs threaded I/O stays off (Redis: "at least 4 or more cores").
    { vcpus: 1, ioThreads: 1 },
    { vcpus: 2, ioThreads: 1 },
    { vcpus: 3, ioThreads: 1 },
    // Redis: "a four cores box, try 2 or 3 I/O threads; 8 cores, try 6".
    { vcpus: 4, ioThreads: 2 },
    { vcpus: 6, ioThreads: 4 },
    { vcpus: 8, ioThreads: 6 },
    // "Using more than 8 threads is unlikely to help much."
    { vcpus: 10, ioThreads: 8 },
    { vcpus: 96, ioThreads: 8 },
  ])("$vcpus vCPUs: io-threads $ioThreads", ({ vcpus, ioThreads }) => {
    expect(ioThreadsRule(vcpus, NUMBER_ARITHMETIC)).toBe(ioThreads);
  });

  test("leaves spare vCPUs on every count from 4 to 128, and never passes the cap", () => {
    for (let vcpus = 4; vcpus <= 128; vcpus++) {
      const threads = ioThreadsRule(vcpus, NUMBER_ARITHMETIC);
      expect(threads).toBeLessThanOrEqual(vcpus - IO_THREADS_SPARE_VCPUS);
      expect(threads).toBeLessThanOrEqual(MAX_DEFAULT_IO_THREADS);
      expect(threads).toBeGreaterThanOrEqual(2);
    }
  });
});

describe("redis-server's LimitNOFILE", () => {
  test.each<{ maxClients: number; limit: number }>([
    { maxClients: 10000, limit: 65535 },
    { maxClients: 65503, limit: 65535 },
    { maxClients: 65504, limit: 65536 },
    { maxClients: 100000, limit: 100032 },
  ])("maxclients $maxClients: $limit (at least maxclients + 32, never below the package's 65535)", ({ maxClients, limit }) => {
    expect(openFilesLimitFor(maxClients)).toBe(limit);
  });
});
