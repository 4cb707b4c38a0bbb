/**
 * How an integration suite starts: it needs root (network namespaces,
 * iptables) and some commands. Without them it is skipped with a message,
 * and with CI=true that is a failure, never a silent skip.
 */
import { execFileSync } from "child_process";

function missingPreconditions(commands: readonly string[]): string[] {
  const missing = process.getuid?.() === 0 ? [] : ["root (network namespaces and iptables)"];
  for (const command of commands) {
    try {
      execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    } catch {
      missing.push(command);
    }
  }
  return missing;
}

/** `describe(suite, scenarios)` when root and `commands` are there; else a failing test (CI) or a skip. */
export function describeIntegration(suite: string, commands: readonly string[], scenarios: () => void): void {
  const missing = missingPreconditions(commands);
  if (missing.length > 0 && process.env.CI === "true") {
    describe(suite, () => {
      test("preconditions", () => {
        throw new Error(`the integration suite must run in CI but is missing: ${missing.join(", ")}`);
      });
    });
  } else if (missing.length > 0) {
    console.warn(`SKIPPED "${suite}": missing ${missing.join(", ")}. Run as root with ${commands.join(", ")} (with CI=true this is a failure).`);
    describe.skip(suite, () => {
      test(`needs ${missing.join(", ")}`, () => undefined);
    });
  } else {
    describe(suite, scenarios);
  }
}

/**
 * The scenarios of one suite, run in order on one group. A scenario (or a
 * setup wrapped in `tracked`) counts as unfinished until it returns, so that
 * the suite's teardown knows whether to print and keep the logs.
 */
export class ScenarioRun {
  private unfinished = 0;

  /** `fn`, counted as unfinished until it succeeds. */
  readonly tracked = (fn: () => Promise<void>) => async () => {
    this.unfinished++;
    await fn();
    this.unfinished--;
  };

  /** A test of the suite, tracked. */
  readonly scenario = (name: string, timeoutMs: number, fn: () => Promise<void>) => test(name, this.tracked(fn), timeoutMs);

  /** Whether a scenario or a tracked setup started and did not finish (failed or timed out). */
  get failed(): boolean {
    return this.unfinished > 0;
  }
}
