import { cpuListProblem, cpusOf, highestCpuOf } from "../../lib/boot";

describe("CPU lists in taskset's syntax, as Redis' *_cpulist directives read them", () => {
  test.each<{ list: string; cpus: number[] }>([
    { list: "0", cpus: [0] },
    { list: "0-3", cpus: [0, 1, 2, 3] },
    { list: "0,2,4", cpus: [0, 2, 4] },
    // redis.conf's own examples.
    { list: "0-7:2", cpus: [0, 2, 4, 6] },
    { list: "1,10-11", cpus: [1, 10, 11] },
    { list: "1-8:3", cpus: [1, 4, 7] },
  ])("$list names $cpus", ({ list, cpus }) => {
    expect(cpuListProblem(list)).toBeUndefined();
    expect(cpusOf(list)).toEqual(cpus);
    expect(highestCpuOf(list)).toBe(Math.max(...cpus));
  });

  test.each<{ list: string; problem: RegExp }>([
    { list: "", problem: /empty/ },
    { list: "0-x", problem: /"0-x" is not a CPU, a range/ },
    { list: "0,,1", problem: /"" is not a CPU/ },
    { list: "0 1", problem: /"0 1" is not a CPU/ },
    { list: "3-1", problem: /"3-1" ends before it starts/ },
    { list: "0-7:0", problem: /stride of "0-7:0" must be at least 1/ },
    { list: "-1", problem: /"-1" is not a CPU/ },
    { list: "1:2", problem: /"1:2" is not a CPU/ },
  ])('"$list" is refused', ({ list, problem }) => {
    expect(cpuListProblem(list)).toMatch(problem);
    expect(() => cpusOf(list)).toThrow(problem);
  });
});
