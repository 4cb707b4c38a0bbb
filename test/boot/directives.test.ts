import { directive, formatArgument, formatDirective, passwordPlaceholder, renderDirectives, sha256Placeholder } from "../../lib/boot";
import { parseRedisConf, splitRedisArgs } from "../helpers";

/** What Redis reads back from `name <formatted value>`. */
const roundTrip = (value: string): string[] => splitRedisArgs(formatDirective(directive("x", value))).slice(1);

describe("formatArgument", () => {
  test.each([
    ["a plain word", "allkeys-lru"],
    ["spaces", "two words  and more"],
    ["double quotes", 'say "hi"'],
    ["single quotes", "it's"],
    ["a lone single quote", "'"],
    ["backslashes", "a\\b\\\\c\\"],
    ["an escape-looking sequence", "\\x41\\n"],
    ["'#'", "#not-a-comment"],
    ["'&'", "a&b&"],
    ["'$' and '${'", "$HOME ${x}"],
    ["the empty string", ""],
    ["non-ASCII", "pässwörd 密码 🔑"],
    ["control characters", "tab\there\nnew\rline\x00nul\x01\x1f\x7f"],
    ["everything at once", ` "'\\#&$é\t`],
  ])("Redis reads back %s exactly", (_case, value) => {
    expect(roundTrip(value)).toEqual([value]);
  });

  test("leaves words without special characters unquoted", () => {
    expect(formatArgument("/var/lib/redis")).toBe("/var/lib/redis");
    expect(formatArgument("128mb")).toBe("128mb");
  });

  test("writes numbers as decimals and booleans as yes/no", () => {
    expect(formatArgument(6379)).toBe("6379");
    expect(formatArgument(true)).toBe("yes");
    expect(formatArgument(false)).toBe("no");
  });

  test("rejects numbers Redis cannot read", () => {
    expect(() => formatArgument(Number.NaN)).toThrow(/NaN/);
    expect(() => formatArgument(Number.POSITIVE_INFINITY)).toThrow(/Infinity/);
  });

  test("keeps the file 7-bit clean", () => {
    expect(formatArgument("é\u0001")).toMatch(/^[\x20-\x7e]*$/);
  });

  test("always puts a password placeholder inside double quotes; a hash needs none", () => {
    expect(formatArgument(passwordPlaceholder("replication"))).toBe(`"@@PASSWORD:replication@@"`);
    expect(formatArgument(`#${sha256Placeholder("admin")}`)).toBe("#@@SHA256:admin@@");
  });
});

describe("formatDirective / renderDirectives", () => {
  test("rejects directive names Redis does not have the shape of", () => {
    expect(() => formatDirective(directive("Bad Name", 1))).toThrow(/Invalid Redis config directive name/);
    expect(() => formatDirective(directive("", 1))).toThrow(/Invalid/);
  });

  test("renders one directive a line after a comment header", () => {
    const text = renderDirectives([directive("port", 7000), directive("save", "")], ["first", "second"]);
    expect(text.split("\n").slice(0, 3)).toEqual(["# first", "# second", ""]);
    expect(parseRedisConf(text)).toEqual([
      { name: "port", args: ["7000"] },
      { name: "save", args: [""] },
    ]);
    expect(text.endsWith("\n")).toBe(true);
  });
});

describe("the test parser follows Redis' sdssplitargs", () => {
  test.each([
    ['"a\\x41\\n"', ["aA\n"]],
    ["'it\\'s' x", ["it's", "x"]],
    ['a"b c" d', ["ab c", "d"]],
    ['"\\q"', ["q"]],
  ])("%s", (line, args) => {
    expect(splitRedisArgs(line)).toEqual(args);
  });

  test.each(['"open', "'open", '"a"b', 'a"b c"d'])("refuses %s", (line) => {
    expect(() => splitRedisArgs(line)).toThrow();
  });
});
