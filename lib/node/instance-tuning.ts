import { DataAwsEc2InstanceType } from "@cdktf/provider-aws/lib/data-aws-ec2-instance-type";
import { Fn, Op, Precondition, Token } from "cdktf";
import { highestCpuOf } from "../boot/render/cpu-list";
import { cpuListsOf, RedisServerOptions } from "../options";

// What a data node's Redis takes from its instance type, which Terraform
// reads at plan (aws_ec2_instance_type): synth knows only the type's name.

/**
 * vCPUs left to everything but the I/O threads: the main thread, and the
 * BGSAVE child, Sentinel, the exporter and the agent on the same node.
 */
export const IO_THREADS_SPARE_VCPUS = 2;
/** Redis' advice: "Using more than 8 threads is unlikely to help much." */
export const MAX_DEFAULT_IO_THREADS = 8;

/** The arithmetic the io-threads rule needs, on numbers or on Terraform expressions. */
export interface IoThreadsArithmetic<T> {
  minus(value: T, n: number): T;
  atLeast(value: T, n: number): T;
  atMost(value: T, n: number): T;
}

/**
 * The io-threads rule: vCPUs - 2, at least 1 and at most 8. Below 4 vCPUs
 * it gives 1 (threaded I/O off): Redis advises it on 4 or more cores only,
 * with a spare core, 2-3 threads on 4 cores and 6 on 8. One definition for
 * both uses: on numbers (tests, docs) and as the Terraform expression the
 * nodes are rendered with.
 */
export function ioThreadsRule<T>(vcpus: T, math: IoThreadsArithmetic<T>): T {
  return math.atMost(math.atLeast(math.minus(vcpus, IO_THREADS_SPARE_VCPUS), 1), MAX_DEFAULT_IO_THREADS);
}

export const NUMBER_ARITHMETIC: IoThreadsArithmetic<number> = {
  minus: (value, n) => value - n,
  atLeast: (value, n) => Math.max(value, n),
  atMost: (value, n) => Math.min(value, n),
};

const TERRAFORM_ARITHMETIC: IoThreadsArithmetic<number> = {
  minus: (value, n) => Op.sub(value, n),
  atLeast: (value, n) => Fn.max([value, n]),
  atMost: (value, n) => Fn.min([value, n]),
};

/** The default io-threads of an instance type, as a Terraform expression of its vCPU count. */
export function defaultIoThreads(type: DataAwsEc2InstanceType): string {
  return Token.asString(ioThreadsRule(type.defaultVcpus, TERRAFORM_ARITHMETIC));
}

/**
 * What Terraform checks at plan against the data nodes' vCPU count: every
 * pinned CPU exists, and an explicit io-threads leaves a spare vCPU. Empty
 * when nothing needs the count (no lookup is made then).
 */
export function vcpuPreconditions(redis: RedisServerOptions, typeName: string, lookup: () => DataAwsEc2InstanceType): Precondition[] {
  const checks: Array<{ below: number; errorMessage: (vcpus: string, lastCpu: string) => string }> = [];
  for (const { prop, list } of cpuListsOf(redis.cpuPinning)) {
    if (Token.isUnresolved(list)) continue;
    const cpu = highestCpuOf(list);
    checks.push({
      below: cpu,
      errorMessage: (vcpus, lastCpu) => `${prop} "${list}" names CPU ${cpu}, but ${typeName} has ${vcpus} vCPUs (CPUs 0 to ${lastCpu}): Redis would ignore the list. Name only CPUs it has.`,
    });
  }
  const io = redis.ioThreads;
  if (io !== undefined && !Token.isUnresolved(io) && io > 1) {
    checks.push({
      below: io,
      errorMessage: (vcpus) => `redis.ioThreads ${io} needs more than ${io} vCPUs (a spare one for the main thread), but ${typeName} has ${vcpus}. Use fewer, or leave it unset.`,
    });
  }
  if (checks.length === 0) return [];
  const vcpus = lookup().defaultVcpus;
  const [count, last] = [Token.asString(vcpus), Token.asString(Op.sub(vcpus, 1))];
  return checks.map(({ below, errorMessage }) => ({ condition: Op.lt(below, vcpus), errorMessage: errorMessage(count, last) }));
}

/** The packaged redis-server unit's LimitNOFILE. */
const PACKAGED_OPEN_FILES_LIMIT = 65535;
/** Descriptors Redis keeps beyond its clients (CONFIG_MIN_RESERVED_FDS): listeners, files, pipes. */
const RESERVED_FILE_DESCRIPTORS = 32;

/**
 * redis-server's LimitNOFILE: at least maxclients + 32, below which Redis
 * lowers maxclients itself at start; never below the package's 65535.
 */
export function openFilesLimitFor(maxClients: number): number | string {
  if (Token.isUnresolved(maxClients)) return Token.asString(Fn.max([PACKAGED_OPEN_FILES_LIMIT, Op.add(maxClients, RESERVED_FILE_DESCRIPTORS)]));
  return Math.max(PACKAGED_OPEN_FILES_LIMIT, maxClients + RESERVED_FILE_DESCRIPTORS);
}
