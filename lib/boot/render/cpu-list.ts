/**
 * CPU lists of Redis' `*_cpulist` directives, in the syntax of `taskset -c`
 * that Redis reads: comma-separated CPUs and ranges, a range with an
 * optional stride ("0-3", "0,2,4", "1-7:2", "1,10-11"). Redis 7.0 ignores a
 * list it cannot read, or one naming a CPU the machine lacks, without a
 * word (measured on 7.0.15): hence the checks here and at plan.
 */

/** One entry of a list: a CPU, or first-last with an optional :stride. */
const ENTRY = /^(\d{1,4})(?:-(\d{1,4})(?::(\d{1,4}))?)?$/;

interface CpuRange {
  readonly first: number;
  readonly last: number;
  readonly stride: number;
}

function rangesOf(list: string): CpuRange[] | string {
  if (list === "") return "it is empty";
  const ranges: CpuRange[] = [];
  for (const entry of list.split(",")) {
    const m = ENTRY.exec(entry);
    if (!m) return `"${entry}" is not a CPU, a range such as 0-3, or a range with a stride such as 1-7:2`;
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    const stride = m[3] === undefined ? 1 : Number(m[3]);
    if (last < first) return `the range "${entry}" ends before it starts`;
    if (stride < 1) return `the stride of "${entry}" must be at least 1`;
    ranges.push({ first, last, stride });
  }
  return ranges;
}

/** Why `list` is not a CPU list Redis reads, or undefined when it is one. */
export function cpuListProblem(list: string): string | undefined {
  const ranges = rangesOf(list);
  return typeof ranges === "string" ? ranges : undefined;
}

/** The CPUs a valid list names, in its order (a stride stops at or before the range's end). */
export function cpusOf(list: string): number[] {
  const ranges = rangesOf(list);
  if (typeof ranges === "string") throw new Error(`not a CPU list: ${ranges}`);
  const cpus: number[] = [];
  for (const { first, last, stride } of ranges) for (let cpu = first; cpu <= last; cpu += stride) cpus.push(cpu);
  return cpus;
}

/** The highest CPU a valid list names: it must be below the instance's vCPU count. */
export function highestCpuOf(list: string): number {
  return Math.max(...cpusOf(list));
}
