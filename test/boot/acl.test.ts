import { aclRuleProblem, applicationUserRules, dataNodeUsers, renderAclFile, sentinelUsers } from "../../lib/boot";
import { parseRedisConf } from "../helpers";

describe("aclRuleProblem: users' rules checked against Redis 7.0", () => {
  test.each(["+get", "-flushdb", "+client|setname", "+@read", "-@dangerous", "~cache:*", "&news:*", "%R~reports:*", "resetkeys", "allchannels"])(
    "accepts %s",
    (rule) => expect(aclRuleProblem(rule)).toBeUndefined(),
  );

  test.each([
    ["+@raed", /unknown ACL category "@raed"/],
    ["+gte", /unknown command "gte"/],
    ["+client|setnam", /unknown command "client\|setnam"/],
    ["+GET", /not a command rule/],
    [">secret", /not allowed here/],
    ["on", /not allowed here/],
    ["nopass", /not allowed here/],
    ["~", /not a key or channel pattern/],
  ])("refuses %s", (rule, message) => expect(aclRuleProblem(rule)).toMatch(message));
});

describe("applicationUserRules", () => {
  const base = { keyPatterns: ["*"], channelPatterns: [] as string[], readOnly: false, allowScripting: false, extraRules: [] as string[] };

  test("every command but @admin, @dangerous and @scripting, INFO back, on its keys and channels", () => {
    expect(applicationUserRules({ ...base, keyPatterns: ["a:*", "b:*"], channelPatterns: ["n:*"] })).toEqual([
      "resetkeys", "~a:*", "~b:*", "resetchannels", "&n:*", "+@all", "-@admin", "-@dangerous", "-@scripting", "+info",
    ]);
  });

  test("scripting opt-in, read-only, and extra rules last", () => {
    const rules = applicationUserRules({ ...base, allowScripting: true, readOnly: true, extraRules: ["+keys"] });
    expect(rules).not.toContain("-@scripting");
    expect(rules).toContain("-@write");
    expect(rules[rules.length - 1]).toBe("+keys");
  });
});

describe("renderAclFile", () => {
  test("the default user off first, then every user with a hash placeholder, no comment (Redis refuses them)", () => {
    const text = renderAclFile(dataNodeUsers([{ name: "app", rules: ["+get"] }], true));
    const users = parseRedisConf(text).map((d) => [d.args[0], d.args[1], d.args[2]]);
    expect(users).toEqual([
      ["default", "off", "resetkeys"],
      ["replication", "on", "#@@SHA256:replication@@"],
      ["sentinel", "on", "#@@SHA256:sentinel@@"],
      ["admin", "on", "#@@SHA256:admin@@"],
      ["monitor", "on", "#@@SHA256:monitor@@"],
      ["node-ops", "on", "#@@SHA256:node-ops@@"],
      ["app", "on", "#@@SHA256:app@@"],
    ]);
    expect(text).not.toMatch(/^#/m);
  });

  test("no sentinel user when no sentinel watches the node", () => {
    expect(dataNodeUsers([], false).map((u) => u.name)).toEqual(["replication", "admin", "monitor", "node-ops"]);
  });

  test("the sentinels' users; node-handover only where asked (dedicated sentinels)", () => {
    expect(sentinelUsers().map((u) => u.name)).toEqual(["sentinel-peer", "sentinel-client", "admin", "node-ops"]);
    expect(sentinelUsers(true, true).map((u) => u.name)).toEqual(["sentinel-peer", "sentinel-client", "admin", "monitor", "node-handover", "node-ops"]);
  });

  // Shared by every data node of the group: never SENTINEL SET (quorum, auth-pass on every sentinel), CONFIG, RESET, REMOVE, MONITOR, ACL, PUBLISH.
  test("node-handover: the planned failover's checks and SENTINEL FAILOVER, nothing that changes a sentinel's settings", () => {
    const rules = sentinelUsers(false, true).find((u) => u.name === "node-handover")!.rules;
    expect(rules).toEqual([
      "resetkeys", "resetchannels", "-@all", "+ping", "+info",
      "+sentinel|get-master-addr-by-name", "+sentinel|master", "+sentinel|replicas", "+sentinel|sentinels", "+sentinel|ckquorum", "+sentinel|failover",
    ]);
  });

  // Password rotation and the planned failover log in as node-ops on the node itself: what they need, no keys, no CONFIG GET.
  test("node-ops: exactly what password rotation and the planned failover need, on a data node and on a sentinel", () => {
    const rulesOf = (users: { name: string; rules: readonly string[] }[]) => users.find((u) => u.name === "node-ops")!.rules;
    expect(rulesOf(dataNodeUsers([], true))).toEqual([
      "resetkeys", "resetchannels", "-@all", "+ping", "+role", "+acl|users", "+acl|getuser", "+acl|setuser", "+acl|save", "+config|set", "+config|rewrite",
      "+client|pause", "+client|unpause", "+client|kill", "+replicaof",
    ]);
    expect(rulesOf(sentinelUsers())).toEqual([
      "resetkeys", "resetchannels", "-@all", "+ping", "+acl|users", "+acl|getuser", "+acl|setuser", "+sentinel|flushconfig", "+sentinel|set", "+sentinel|config",
      "+sentinel|get-master-addr-by-name", "+sentinel|replicas", "+sentinel|sentinels",
      "+info", "+sentinel|master", "+sentinel|ckquorum", "+sentinel|failover",
    ]);
    // Each data node rule is one Redis 7.0 knows (the sentinel subcommands are Sentinel's own; a sentinel refuses to start on an unknown one).
    for (const rule of rulesOf(dataNodeUsers([], true))) expect({ rule, problem: aclRuleProblem(rule) }).toEqual({ rule, problem: undefined });
  });
});
