import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { TerraformOutput, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { RedisPassword, RedisReplicationGroup, RedisReplicationGroupProps, RedisReplicationValidationError } from "../../lib";
import { compressedSize, passwordPlaceholder, REDIS_RESTART_DROP_IN, SECRETS_LIST_PATH, USER_DATA_BUDGET_BYTES } from "../../lib/boot";
import {
  cloudConfigFiles,
  nodeEnvVariable,
  dataSources,
  directiveArgs,
  directivesNamed,
  eniAddressRef,
  iamStatements,
  kmsDecryptStatement,
  logicalIdAt,
  managedPolicyAttachments,
  newStack,
  parseCloudConfig,
  parseRedisConf,
  pathOfLogicalId,
  resources,
  SSM_PARAMETER_READS,
  synthJson,
  TerraformJson,
  userDataOf,
  wildcardGrants,
} from "../helpers";

const SSM_ARN = "arn:aws:ssm:eu-west-1:123456789012:parameter/app/redis";
const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/redis-AbCdEf";

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}): TerraformJson {
  const stack = newStack();
  new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"], ...props });
  return synthJson(stack);
}

/** Subnet of each node's network interface, by node name ("master", "replica-1", ...). */
const eniSubnets = (json: TerraformJson): Record<string, string> =>
  Object.fromEntries(
    Object.entries(resources(json, "aws_network_interface")).map(([id, eni]) => [pathOfLogicalId(id).replace(/^redis\/|\/eni$/g, ""), eni.subnet_id]),
  );

/** A node's inline policy of secret reads (the master's unless said): each node has its own role. */
const passwordPolicy = (json: TerraformJson, node = "master") =>
  JSON.parse(resources(json, "aws_iam_role_policy")[logicalIdAt(json, "aws_iam_role_policy", `redis/${node}/role/read-password`)].policy as string);

describe("RedisReplicationGroup: topology", () => {
  test("one master and replicaCount replicas, each with its own interface", () => {
    const json = synthGroup({ replicaCount: 3 });
    expect(Object.keys(userDataOf(json)).sort()).toEqual(["redis/master", "redis/replica-1", "redis/replica-2", "redis/replica-3"]);
    expect(Object.keys(resources(json, "aws_network_interface"))).toHaveLength(4);
  });

  test("places nodes round-robin over a literal subnet list", () => {
    expect(eniSubnets(synthGroup({ replicaCount: 3 }))).toEqual({
      master: "subnet-a",
      "replica-1": "subnet-b",
      "replica-2": "subnet-a",
      "replica-3": "subnet-b",
    });
  });

  test("places nodes with element() over a list token", () => {
    const stack = newStack();
    const subnets = new TerraformVariable(stack, "subnets", { type: "list(string)" });
    new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: subnets.listValue });
    expect(eniSubnets(synthJson(stack))).toEqual({
      master: "${element(var.subnets, 0)}",
      "replica-1": "${element(var.subnets, 1)}",
      "replica-2": "${element(var.subnets, 2)}",
    });
  });

  test("spreads dedicated sentinels round-robin over a literal subnet list, the first in the first subnet", () => {
    // Two subnets for three data nodes: sentinel-1 in the first, not after the data nodes.
    expect(eniSubnets(synthGroup({ sentinel: { dedicatedNodeCount: 5 } }))).toEqual({
      master: "subnet-a",
      "replica-1": "subnet-b",
      "replica-2": "subnet-a",
      "sentinel-1": "subnet-a",
      "sentinel-2": "subnet-b",
      "sentinel-3": "subnet-a",
      "sentinel-4": "subnet-b",
      "sentinel-5": "subnet-a",
    });
  });

  test("spreads dedicated sentinels with element() over a list token", () => {
    const stack = newStack();
    const subnets = new TerraformVariable(stack, "subnets", { type: "list(string)" });
    new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: subnets.listValue, sentinel: { dedicatedNodeCount: 3 } });
    expect(eniSubnets(synthJson(stack))).toMatchObject({
      "sentinel-1": "${element(var.subnets, 0)}",
      "sentinel-2": "${element(var.subnets, 1)}",
      "sentinel-3": "${element(var.subnets, 2)}",
    });
  });

  test("shares one AMI lookup and one instance-type lookup between the data nodes", () => {
    const json = synthGroup();
    expect(Object.keys(dataSources(json, "aws_ami"))).toHaveLength(1);
    expect(Object.keys(dataSources(json, "aws_ec2_instance_type"))).toHaveLength(1);
  });

  test("outputs the addresses, master name, group, CA, password parameter and the rotation's document and targets under stable names: <group id>-<name>", () => {
    expect(Object.keys(synthGroup().output).sort()).toEqual(
      [
        "master-address",
        "replica-addresses",
        "sentinel-addresses",
        "master-name",
        "security-group-id",
        "password-secret-arn",
        "password-parameter-name",
        "sentinel-client-password-parameter-name",
        "ca-certificate",
        "rotate-password-document",
        "rotate-password-targets",
      ]
        .map((o) => `redis-${o}`)
        .sort(),
    );
    expect(synthGroup({ outputs: false }).output).toBeUndefined();
  });

  test("the master-address output is the master's interface address", () => {
    const json = synthGroup();
    expect(json.output["redis-master-address"].value).toBe(eniAddressRef(json, "redis/master"));
  });

  test("the password parameter's name: an attribute and an output, the app user's and the sentinel-client user's", () => {
    const stack = newStack();
    const group = new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a"] });
    new TerraformOutput(stack, "attribute", { value: group.passwordParameterName });
    const json = synthJson(stack);
    const name = `\${aws_ssm_parameter.${logicalIdAt(json, "aws_ssm_parameter", "redis/users/app/password")}.name}`;
    expect(resources(json, "aws_ssm_parameter")[logicalIdAt(json, "aws_ssm_parameter", "redis/users/app/password")].name).toBe("/redis-replication/test/redis/users/app/password");
    expect(json.output.attribute.value).toBe(name);
    expect(json.output["redis-password-parameter-name"].value).toBe(name);
    expect(json.output["redis-sentinel-client-password-parameter-name"].value).toBe(
      `\${aws_ssm_parameter.${logicalIdAt(json, "aws_ssm_parameter", "redis/users/sentinel-client/password")}.name}`,
    );
  });

  test("a password you bring: its ARN is the parameter name (GetParameter takes it)", () => {
    const stack = newStack();
    const group = new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a"], password: RedisPassword.fromSsmParameterArn(SSM_ARN) });
    expect(group.passwordParameterName).toBe(SSM_ARN);
    expect(synthJson(stack).output["redis-password-parameter-name"].value).toBe(SSM_ARN);
  });

  test("two groups in one stack: each its own outputs, named after it", () => {
    const stack = newStack();
    new RedisReplicationGroup(stack, "sessions", { vpcId: "vpc-1", subnetIds: ["subnet-a"] });
    new RedisReplicationGroup(stack, "queues", { vpcId: "vpc-1", subnetIds: ["subnet-a"], sentinel: { enabled: false }, tls: { enabled: false } });
    const json = synthJson(stack);
    const names = Object.keys(json.output);
    expect(names.filter((n) => n.startsWith("sessions-"))).toHaveLength(11);
    expect(names.filter((n) => n.startsWith("queues-")).sort()).toEqual(
      ["master-address", "replica-addresses", "security-group-id", "password-secret-arn", "password-parameter-name", "rotate-password-document", "rotate-password-targets"]
        .map((o) => `queues-${o}`)
        .sort(),
    );
    expect(json.output["sessions-master-address"].value).toBe(eniAddressRef(json, "sessions/master"));
    expect(json.output["queues-master-address"].value).toBe(eniAddressRef(json, "queues/master"));
  });

  test("a nested group: its path under the stack, joined with '-'", () => {
    const stack = newStack();
    new RedisReplicationGroup(new Construct(stack, "tenant-a"), "cache", { vpcId: "vpc-1", subnetIds: ["subnet-a"] });
    new RedisReplicationGroup(new Construct(stack, "tenant-b"), "cache", { vpcId: "vpc-1", subnetIds: ["subnet-a"] });
    const json = synthJson(stack);
    expect(json.output["tenant-a-cache-master-address"].value).toBe(eniAddressRef(json, "tenant-a/cache/master"));
    expect(json.output["tenant-b-cache-master-address"].value).toBe(eniAddressRef(json, "tenant-b/cache/master"));
  });

  test("two groups whose paths join to the same names: a validation error naming both", () => {
    const stack = newStack();
    new RedisReplicationGroup(new Construct(stack, "a-b"), "cache", { vpcId: "vpc-1", subnetIds: ["subnet-a"] });
    const parent = new Construct(stack, "a");
    const second = (() => {
      try {
        new RedisReplicationGroup(parent, "b-cache", { vpcId: "vpc-1", subnetIds: ["subnet-a"] });
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(second).toBeInstanceOf(RedisReplicationValidationError);
    expect((second as Error).message).toMatch(
      /^\[test\/a\/b-cache\] the outputs of this group and of test\/a-b\/cache would have the same names \(a-b-cache-master-address, .*\): give one of the groups \(or its parent\) another id, or set outputs: false on one$/,
    );
    // Without outputs, nothing clashes.
    expect(() => new RedisReplicationGroup(new Construct(stack, "x"), "b-cache", { vpcId: "vpc-1", subnetIds: ["subnet-a"], outputs: false })).not.toThrow();
  });
});

describe("RedisReplicationGroup: users and their secrets", () => {
  const USERS = ["app", "admin", "monitor", "replication", "sentinel", "sentinel-peer", "sentinel-client"];
  const param = (json: TerraformJson, user: string, suffix = "") =>
    `\${aws_ssm_parameter.${logicalIdAt(json, "aws_ssm_parameter", `redis/users/${user}/password${suffix}`)}`;
  // The TLS parameters have tests of their own (tls.test.ts).
  const userParameters = (json: TerraformJson) => Object.keys(resources(json, "aws_ssm_parameter")).filter((id) => pathOfLogicalId(id).startsWith("redis/users/"));
  const isUserParameterArn = (arn: string) => /^\$\{aws_ssm_parameter\.redis_users_/.test(arn);

  test("generated: each user has its own SSM SecureString from GetRandomPassword, and its SHA-256 beside it", () => {
    const json = synthGroup();
    expect(Object.keys(dataSources(json, "aws_secretsmanager_random_password"))).toHaveLength(USERS.length);
    expect(userParameters(json)).toHaveLength(USERS.length * 2);
    for (const user of USERS) {
      const generator = logicalIdAt({ resource: json.data }, "aws_secretsmanager_random_password", `redis/users/${user}/password-generator`);
      const parameters = resources(json, "aws_ssm_parameter");
      const password = parameters[logicalIdAt(json, "aws_ssm_parameter", `redis/users/${user}/password`)];
      expect(password).toMatchObject({
        type: "SecureString",
        name: `/redis-replication/test/redis/users/${user}/password`,
        value: `\${data.aws_secretsmanager_random_password.${generator}.random_password}`,
        lifecycle: { ignore_changes: ["value"] },
      });
      // Made from the stored value, so it follows the password even when that is changed by hand.
      expect(parameters[logicalIdAt(json, "aws_ssm_parameter", `redis/users/${user}/password-sha256`)]).toMatchObject({
        type: "SecureString",
        name: `/redis-replication/test/redis/users/${user}/password-sha256`,
        value: `\${sha256(${param(json, user).slice(2)}.value)}`,
      });
    }
  });

  test("with dedicated sentinels a data node reads sentinel-client's and node-handover's passwords too (its role decision and its planned failover ask them as those users), nothing else more", () => {
    const json = synthGroup({ sentinel: { dedicatedNodeCount: 3 } });
    for (const node of ["master", "replica-1", "replica-2"]) {
      const statements = passwordPolicy(json, node).Statement.filter((st: { Action: string[] }) => !["events:PutEvents", "ssm:GetParameters"].includes(st.Action[0]));
      expect(statements).toHaveLength(1);
      expect({ node, reads: [...statements[0].Resource].filter(isUserParameterArn).sort() }).toEqual({
        node,
        reads: [
          `${param(json, "replication")}.arn}`,
          `${param(json, "sentinel-client")}.arn}`,
          `${param(json, "node-handover")}.arn}`,
          `${param(json, "app", "-sha256")}.arn}`,
          `${param(json, "admin", "-sha256")}.arn}`,
          `${param(json, "monitor", "-sha256")}.arn}`,
          `${param(json, "sentinel", "-sha256")}.arn}`,
        ].sort(),
      });
      const list = cloudConfigFiles(userDataOf(json)[`redis/${node}`])[SECRETS_LIST_PATH].trim().split("\n");
      const logins = list.filter((l) => /^(sentinel-client|node-handover) /.test(l)).map((l) => l.split(" ").slice(0, 3).join(" "));
      expect(logins).toEqual(["sentinel-client password ssm", "node-handover password ssm"]);
    }
    // The sentinels check only their hashes.
    for (const node of ["sentinel-1", "sentinel-2", "sentinel-3"]) {
      const sentinelReads = [...passwordPolicy(json, node).Statement.flatMap((st: { Resource: string[] }) => st.Resource)];
      for (const user of ["sentinel-client", "node-handover"]) {
        const reads = sentinelReads.filter((r) => r.startsWith(`\${aws_ssm_parameter.redis_users_${user}_`));
        expect({ node, user, reads }).toEqual({ node, user, reads: [`${param(json, user, "-sha256")}.arn}`] });
      }
    }
  });

  test("node-handover exists only with dedicated sentinels: its own generated secret and hash, read by no node of a group whose sentinels run on the data nodes", () => {
    const dedicated = synthGroup({ sentinel: { dedicatedNodeCount: 3 } });
    expect(userParameters(dedicated)).toHaveLength((USERS.length + 1) * 2);
    expect(resources(dedicated, "aws_ssm_parameter")[logicalIdAt(dedicated, "aws_ssm_parameter", "redis/users/node-handover/password")]).toMatchObject({
      type: "SecureString",
      name: "/redis-replication/test/redis/users/node-handover/password",
      lifecycle: { ignore_changes: ["value"] },
    });
    const coLocated = synthGroup();
    expect(userParameters(coLocated).filter((id) => pathOfLogicalId(id).includes("node-handover"))).toEqual([]);
    // No node reads it, no sentinel has it, no planned failover logs in as it.
    for (const [node, userData] of Object.entries(userDataOf(coLocated))) {
      expect({ node, mentions: userData.includes("node-handover") }).toEqual({ node, mentions: false });
    }
  });

  test("the nodes may read the passwords they log in with and only the hashes of the others", () => {
    const json = synthGroup();
    // The other statements: publishing the failover events (test/constructs/failover-events.test.ts)
    // and reading the boot library (test/boot/bootstrap.test.ts).
    const statements = passwordPolicy(json).Statement.filter((st: { Action: string[] }) => !["events:PutEvents", "ssm:GetParameters"].includes(st.Action[0]));
    expect(statements).toHaveLength(1);
    expect(statements[0].Action).toEqual(["ssm:GetParameter"]);
    expect([...statements[0].Resource].filter(isUserParameterArn).sort()).toEqual(
      [
        `${param(json, "replication")}.arn}`,
        `${param(json, "sentinel")}.arn}`,
        `${param(json, "sentinel-peer")}.arn}`,
        `${param(json, "app", "-sha256")}.arn}`,
        `${param(json, "admin", "-sha256")}.arn}`,
        `${param(json, "monitor", "-sha256")}.arn}`,
        `${param(json, "sentinel-client", "-sha256")}.arn}`,
      ].sort(),
    );
    const list = cloudConfigFiles(userDataOf(json)["redis/master"])[SECRETS_LIST_PATH].trim().split("\n");
    expect(list.map((l) => l.split(" ").slice(0, 3).join(" ")).sort()).toEqual(
      [
        "replication password ssm",
        "admin sha256 ssm",
        "monitor sha256 ssm",
        "sentinel password ssm",
        "app sha256 ssm",
        "sentinel-peer password ssm",
        "sentinel-client sha256 ssm",
      ].sort(),
    );
  });

  test("no node reads a parameter it was not granted, and Session Manager reads none", () => {
    const json = synthGroup();
    const statements = iamStatements(json);
    // Both policies of each node's role are read: Session Manager's and the secret reads.
    expect([...new Set(statements.map((s) => pathOfLogicalId(s.policy.split(".")[1])))].sort()).toEqual(
      ["master", "replica-1", "replica-2"].flatMap((node) => [`redis/${node}/role/read-password`, `redis/${node}/role/session-manager`]).sort());
    expect(wildcardGrants(statements, SSM_PARAMETER_READS)).toEqual([]);
    expect(managedPolicyAttachments(json)).toEqual([]);
  });

  test("that check reads every policy and every resource: a wildcard read in the second policy, in a list, or in a policy of the user's is seen", () => {
    const stack = newStack();
    const group = new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a"] });
    // Merged into the last node's second policy, as one resource among the parameters it reads.
    const last = group.nodes[group.nodes.length - 1];
    last.role.addToPolicy({ actions: ["ssm:GetParameter"], resources: ["*"] });
    const statement = { Effect: "Allow", Action: "ssm:Get*", Resource: "arn:aws:ssm:*:*:parameter/*" };
    new IamRolePolicy(stack, "extra", { role: last.role.roleName, policy: JSON.stringify({ Version: "2012-10-17", Statement: statement }) });
    new IamRolePolicyAttachment(stack, "core", { role: last.role.roleName, policyArn: "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" });
    const json = synthJson(stack);
    expect(wildcardGrants(iamStatements(json), SSM_PARAMETER_READS).map((s) => s.policy).sort()).toEqual(
      [`aws_iam_role_policy.${logicalIdAt(json, "aws_iam_role_policy", `redis/${last.name}/role/read-password`)}`, "aws_iam_role_policy.extra"].sort(),
    );
    const role = logicalIdAt(json, "aws_iam_role", `redis/${last.name}/role`);
    expect(managedPolicyAttachments(json)).toEqual([`\${aws_iam_role.${role}.name} arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore`]);
  });

  test("a policy the check cannot read fails it instead of passing", () => {
    const json = { resource: { aws_iam_role_policy: { extra: { role: "r", policy: "${data.aws_iam_policy_document.any.json}" } } } };
    expect(() => iamStatements(json)).toThrow(/aws_iam_role_policy\.extra: the policy is not literal JSON/);
    const notAction = { Version: "2012-10-17", Statement: [{ Effect: "Allow", NotAction: "iam:*", Resource: "*" }] };
    expect(() => iamStatements({ resource: { aws_iam_role_policy: { extra: { role: "r", policy: JSON.stringify(notAction) } } } })).toThrow(/NotAction/);
  });

  test.each([
    ["an existing SSM parameter", RedisPassword.fromSsmParameterArn(SSM_ARN), "ssm", "ssm:GetParameter", SSM_ARN],
    ["a Secrets Manager secret", RedisPassword.fromSecretsManagerSecretArn(SECRET_ARN), "secretsmanager", "secretsmanager:GetSecretValue", SECRET_ARN],
  ])("the app user's password from %s: no hash stored, so the nodes read it and hash it at boot", (_case, password, store, action, arn) => {
    const json = synthGroup({ password });
    expect(userParameters(json)).toHaveLength((USERS.length - 1) * 2);
    const read = passwordPolicy(json).Statement.find((st: { Action: string[] }) => st.Action[0] === action);
    expect([read.Resource].flat()).toContain(arn);
    for (const userData of Object.values(userDataOf(json))) {
      expect(cloudConfigFiles(userData)[SECRETS_LIST_PATH]).toContain(`app password ${store} ${arn}\n`);
    }
  });

  test("users: several application users, each with its own secret and ACL line", () => {
    const json = synthGroup({ users: [{ name: "web", keyPatterns: ["web:*"] }, { name: "reports", readOnly: true }] });
    const acl = cloudConfigFiles(userDataOf(json)["redis/replica-1"])["/etc/redis-node/users.acl.template"];
    expect(acl).toMatch(/^user web on #@@SHA256:web@@ resetkeys ~web:\* /m);
    expect(acl).toMatch(/^user reports on #@@SHA256:reports@@ .* -@write /m);
    expect(acl).not.toMatch(/^user app /m);
    expect(() => logicalIdAt(json, "aws_ssm_parameter", "redis/users/web/password")).not.toThrow();
  });

  test("generated with a customer managed key ARN: the parameter uses it and the role may decrypt with it", () => {
    const key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const json = synthGroup({ password: RedisPassword.generated({ kmsKeyArn: key, parameterName: "/app/redis" }) });
    expect(resources(json, "aws_ssm_parameter")[logicalIdAt(json, "aws_ssm_parameter", "redis/users/app/password")]).toMatchObject({ key_id: key, name: "/app/redis" });
    expect(resources(json, "aws_ssm_parameter")[logicalIdAt(json, "aws_ssm_parameter", "redis/users/app/password-sha256")]).toMatchObject({ key_id: key, name: "/app/redis-sha256" });
    const app = `\${aws_ssm_parameter.${logicalIdAt(json, "aws_ssm_parameter", "redis/users/app/password-sha256")}.arn}`;
    // The nodes read the app user's hash, so they may decrypt exactly that parameter with the key.
    expect(passwordPolicy(json).Statement).toContainEqual(kmsDecryptStatement(key, "ssm", app));
  });

  // Known lib bug: GeneratedRedisPasswordOptions.kmsKeyArn is documented as
  // "KMS key id or ARN", but it goes verbatim into the IAM policy's Resource,
  // which IAM rejects (MalformedPolicyDocument) unless it is an ARN.
  test("a KMS key id instead of its ARN is refused: kms:Decrypt must name an ARN", () => {
    expect(() => synthGroup({ password: RedisPassword.generated({ kmsKeyArn: "1234abcd-12ab-34cd-56ef-1234567890ab" }) })).toThrow(
      /\[test\/redis\] password kmsKeyArn "1234abcd-12ab-34cd-56ef-1234567890ab" is not a KMS key ARN/,
    );
  });

  test("a customer managed key adds kms:Decrypt on that key only", () => {
    const key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const json = synthGroup({ password: RedisPassword.fromSecretsManagerSecretArn(SECRET_ARN, key) });
    expect(passwordPolicy(json).Statement).toContainEqual(kmsDecryptStatement(key, "secretsmanager", SECRET_ARN));
    // ssm:GetParameter on the generated users, secretsmanager on the app's secret, kms:Decrypt; events:PutEvents; ssm:GetParameters on the boot library.
    expect(passwordPolicy(json).Statement.map((st: { Action: string[] }) => st.Action[0])).toEqual(["ssm:GetParameter", "secretsmanager:GetSecretValue", "kms:Decrypt", "events:PutEvents", "ssm:GetParameters"]);
  });
});

describe("RedisReplicationGroup: SSH", () => {
  test("no key pair by default; a named one on every node", () => {
    const keys = (json: TerraformJson) => Object.values(resources(json, "aws_instance")).map((i) => i.key_name);
    expect(keys(synthGroup())).toEqual([undefined, undefined, undefined]);
    expect(keys(synthGroup({ keyName: "ops" }))).toEqual(["ops", "ops", "ops"]);
  });
});

describe("RedisReplicationGroup: every node's user data", () => {
  let json: TerraformJson;
  let master: string;
  beforeAll(() => {
    json = synthGroup({ replicaCount: 2, subnetIds: ["subnet-a", "subnet-b", "subnet-c"] });
    master = eniAddressRef(json, "redis/master");
  });

  test("there are three nodes", () => {
    expect(Object.keys(userDataOf(json)).sort()).toEqual(["redis/master", "redis/replica-1", "redis/replica-2"]);
  });

  test.each(["redis/master", "redis/replica-1", "redis/replica-2"])("%s", (node) => {
    const userData = userDataOf(json)[node];
    expect(compressedSize(userData)).toBeLessThanOrEqual(USER_DATA_BUDGET_BYTES);
    const files = cloudConfigFiles(userData);
    expect(files["/etc/sysctl.d/60-redis.conf"]).toMatch(/^vm\.overcommit_memory = 1$/m);
    expect(files["/etc/systemd/system/redis-disable-thp.service"]).toMatch(/transparent_hugepage\/enabled/);
    expect(parseCloudConfig(userData).packages).toEqual(expect.arrayContaining(["redis-server", "redis-sentinel"]));

    const redis = parseRedisConf(files["/etc/redis-node/redis.conf.template"]);
    expect(directiveArgs(redis, "bind")).toEqual([eniAddressRef(json, node), "127.0.0.1"]);
    expect(directivesNamed(redis, "requirepass")).toEqual([]);
    expect(directiveArgs(redis, "masteruser")).toEqual(["replication"]);
    expect(directiveArgs(redis, "masterauth")).toEqual([passwordPlaceholder("replication")]);
    expect(directivesNamed(redis, "replicaof")).toEqual(node === "redis/master" ? [] : [[master, "6379"]]);
    expect(directiveArgs(redis, "min-replicas-to-write")).toEqual(["1"]);

    const sentinel = parseRedisConf(files["/etc/redis-node/sentinel.conf.template"]);
    expect(directiveArgs(sentinel, "sentinel", "monitor")).toEqual(["main", master, "6379", "2"]);
    expect(directiveArgs(sentinel, "sentinel", "announce-ip")).toEqual([eniAddressRef(json, node)]);
    expect(directiveArgs(sentinel, "sentinel", "auth-pass")).toEqual(["main", passwordPlaceholder("sentinel")]);
  });

  test("replica priorities go to the nodes in order, the master first", () => {
    const prioritized = synthGroup({ replicaPriorities: [10, 20, 0] });
    const priority = (node: string) =>
      directiveArgs(parseRedisConf(cloudConfigFiles(userDataOf(prioritized)[node])["/etc/redis-node/redis.conf.template"]), "replica-priority");
    expect([priority("redis/master"), priority("redis/replica-1"), priority("redis/replica-2")]).toEqual([["10"], ["20"], ["0"]]);
  });

  test("node.env carries custom redis and sentinel ports to the boot's health checks", () => {
    const custom = userDataOf(synthGroup({ redis: { port: 7000 }, sentinel: { port: 27000 } }));
    for (const userData of Object.values(custom)) {
      const env = cloudConfigFiles(userData)["/etc/redis-node/node.env"];
      expect(env).toMatch(/^REDIS_PORT='7000'$/m);
      expect(env).toMatch(/^SENTINEL_PORT='27000'$/m);
    }
  });

  test("without replicas, min-replicas-to-write is off", () => {
    const single = synthGroup({ replicaCount: 0, sentinel: { allowFewerThanThreeSentinels: true } });
    const redis = parseRedisConf(cloudConfigFiles(userDataOf(single)["redis/master"])["/etc/redis-node/redis.conf.template"]);
    expect(directiveArgs(redis, "min-replicas-to-write")).toEqual(["0"]);
  });

  test.each([
    // down-after + a split vote's retry (2 x failover-timeout + 1 s) + 10 s.
    [{}, "36"],
    [{ sentinel: { downAfterMilliseconds: 20000 } }, "51"],
    [{ sentinel: { downAfterMilliseconds: 20000, dedicatedNodeCount: 3 } }, "51"],
    [{ sentinel: { failoverTimeoutMilliseconds: 60000 } }, "136"],
  ])("a crashed redis-server restarts only after Sentinel could fail over (%j: RestartSec=%s)", (props, seconds) => {
    const grouped = userDataOf(synthGroup(props as Partial<RedisReplicationGroupProps>));
    for (const node of ["redis/master", "redis/replica-1", "redis/replica-2"]) {
      expect(cloudConfigFiles(grouped[node])[REDIS_RESTART_DROP_IN]).toMatch(new RegExp(`^RestartSec=${seconds}$`, "m"));
    }
    for (const node of Object.keys(grouped).filter((n) => n.includes("sentinel-"))) {
      expect(cloudConfigFiles(grouped[node])[REDIS_RESTART_DROP_IN]).toBeUndefined();
    }
  });

  test("Sentinel disabled: no sentinel.conf, no redis-sentinel package, no sentinel outputs", () => {
    const off = synthGroup({ sentinel: { enabled: false } });
    for (const userData of Object.values(userDataOf(off))) {
      expect(cloudConfigFiles(userData)["/etc/redis-node/sentinel.conf.template"]).toBeUndefined();
      expect(parseCloudConfig(userData).packages).not.toContain("redis-sentinel");
      expect(cloudConfigFiles(userData)[REDIS_RESTART_DROP_IN]).toBeUndefined();
    }
    expect(Object.keys(off.output).filter((id) => id.includes("sentinel"))).toEqual([]);
  });
});

describe("RedisReplicationGroup: dedicated sentinel nodes", () => {
  let json: TerraformJson;
  let userData: Record<string, string>;
  let master: string;
  beforeAll(() => {
    json = synthGroup({ sentinel: { dedicatedNodeCount: 3, masterName: "cache" } });
    userData = userDataOf(json);
    master = eniAddressRef(json, "redis/master");
  });

  test("adds sentinel-only instances of the sentinel instance type", () => {
    expect(Object.keys(userData).sort()).toEqual(
      ["redis/master", "redis/replica-1", "redis/replica-2", "redis/sentinel-1", "redis/sentinel-2", "redis/sentinel-3"],
    );
    const types = Object.entries(resources(json, "aws_instance")).filter(([id]) => id.includes("_sentinel-"));
    expect(types.map(([, i]) => i.instance_type)).toEqual(["t3.micro", "t3.micro", "t3.micro"]);
  });

  test.each(["redis/sentinel-1", "redis/sentinel-2", "redis/sentinel-3"])("%s runs Sentinel only, monitoring the master", (node) => {
    const files = cloudConfigFiles(userData[node]);
    expect(parseCloudConfig(userData[node]).packages).not.toContain("redis-server");
    expect(files["/etc/redis-node/redis.conf.template"]).toBeUndefined();
    expect(nodeEnvVariable(userData[node], "BOOT_PARTS")).toBe("tuning updates secret-fetch tls sentinel-events sentinel ssm-agent");
    const sentinel = parseRedisConf(files["/etc/redis-node/sentinel.conf.template"]);
    expect(directiveArgs(sentinel, "sentinel", "monitor")).toEqual(["cache", master, "6379", "2"]);
    expect(directiveArgs(sentinel, "bind")).toEqual([eniAddressRef(json, node), "127.0.0.1"]);
  });

  test.each(["redis/master", "redis/replica-1"])("%s runs no Sentinel", (node) => {
    expect(cloudConfigFiles(userData[node])["/etc/redis-node/sentinel.conf.template"]).toBeUndefined();
    expect(parseCloudConfig(userData[node]).packages).not.toContain("redis-sentinel");
  });

  test("node.env of a dedicated sentinel carries a custom sentinel port, and no redis port: it runs no redis-server", () => {
    const custom = userDataOf(synthGroup({ redis: { port: 7000 }, sentinel: { port: 27000, dedicatedNodeCount: 3 } }));
    for (const node of ["redis/sentinel-1", "redis/sentinel-2", "redis/sentinel-3"]) {
      const env = cloudConfigFiles(custom[node])["/etc/redis-node/node.env"];
      expect(env).toMatch(/^SENTINEL_PORT='27000'$/m);
      expect(env).not.toMatch(/^REDIS_PORT=/m);
    }
  });

  test("the sentinel-addresses output lists the dedicated nodes", () => {
    expect(json.output["redis-sentinel-addresses"].value).toEqual(["redis/sentinel-1", "redis/sentinel-2", "redis/sentinel-3"].map((n) => eniAddressRef(json, n)));
  });
});
