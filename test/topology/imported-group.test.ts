// A group used from another stack by its attributes: clients allowed in and
// roles granted the password, without owning the nodes.
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { App, TerraformStack } from "cdktf";
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { RedisPassword, RedisPeer, RedisPortKind, RedisReplicationGroup, SecretStore } from "../../lib";
import { kmsDecryptStatement, logicalIdAt, newStack, resources, synthJson, TerraformJson } from "../helpers";

const SSM_ARN = "arn:aws:ssm:eu-west-1:123456789012:parameter/app/redis";
const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/redis-AbCdEf";
const KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

const policies = (json: TerraformJson) =>
  Object.values(resources(json, "aws_iam_role_policy")).map((p) => ({ role: p.role, statements: JSON.parse(p.policy).Statement }));
const ingress = (json: TerraformJson) =>
  Object.values(resources(json, "aws_vpc_security_group_ingress_rule")).map((r) => `${r.security_group_id} ${r.from_port} ${r.referenced_security_group_id ?? r.cidr_ipv4}`);

describe("RedisReplicationGroup.fromAttributes", () => {
  test("allows a security group in on both ports of the imported group, with the given ports", () => {
    const stack = newStack();
    const cache = RedisReplicationGroup.fromAttributes(stack, "cache", { securityGroupId: "sg-0redis", passwordSecretArn: SSM_ARN, redisPort: 7000 });
    cache.allowFromSecurityGroup("sg-0app", "app servers");
    cache.allowFrom(RedisPeer.ipv4("10.9.0.0/16"), { ports: [RedisPortKind.SENTINEL] });
    expect(ingress(synthJson(stack)).sort()).toEqual(["sg-0redis 26379 10.9.0.0/16", "sg-0redis 26379 sg-0app", "sg-0redis 7000 sg-0app"]);
  });

  test.each([
    ["an SSM parameter", SSM_ARN, undefined, ["ssm:GetParameter"]],
    ["a Secrets Manager secret", SECRET_ARN, undefined, ["secretsmanager:GetSecretValue"]],
    ["a store given by name", "arn:aws:ssm:eu-west-1:123456789012:parameter/x", SecretStore.SSM, ["ssm:GetParameter"]],
  ])("grants a role the read of %s, and nothing else", (_case, arn, store, actions) => {
    const stack = newStack();
    const cache = RedisReplicationGroup.fromAttributes(stack, "cache", { securityGroupId: "sg-0redis", passwordSecretArn: arn, passwordSecretStore: store });
    cache.grantReadPassword("app-role");
    expect(policies(synthJson(stack))).toEqual([{ role: "app-role", statements: [{ Effect: "Allow", Action: actions, Resource: arn }] }]);
  });

  test("an ARN that is a token and no store: both read actions, on that one ARN; the key when there is one", () => {
    const stack = newStack();
    const arn = new IamRole(stack, "stand-in", { assumeRolePolicy: "{}" }).arn; // any token
    const cache = RedisReplicationGroup.fromAttributes(stack, "cache", { securityGroupId: "sg-0redis", passwordSecretArn: arn, passwordKmsKeyArn: KEY_ARN });
    cache.grantReadPassword("app-role");
    const [policy] = policies(synthJson(stack));
    const arnRef = "${aws_iam_role.stand-in.arn}";
    expect(policy.statements).toEqual([
      { Effect: "Allow", Action: ["ssm:GetParameter", "secretsmanager:GetSecretValue"], Resource: arnRef },
      kmsDecryptStatement(KEY_ARN, "ssm", arnRef),
      kmsDecryptStatement(KEY_ARN, "secretsmanager", arnRef),
    ]);
  });

  test("granting the same role twice gives one policy; another role its own", () => {
    const stack = newStack();
    const role = new IamRole(stack, "app", { assumeRolePolicy: "{}" });
    const cache = RedisReplicationGroup.fromAttributes(stack, "cache", { securityGroupId: "sg-0redis", passwordSecretArn: SSM_ARN });
    cache.grantReadPassword(role.name);
    cache.grantReadPassword(role.name);
    cache.grantReadPassword("worker-role");
    expect(policies(synthJson(stack)).map((p) => p.role).sort()).toEqual(["${aws_iam_role.app.name}", "worker-role"]);
  });
});

describe("a group in one stack, used from another stack of the same app", () => {
  test("synthesizes: the second stack allows its clients and grants its role through remote state", () => {
    const outdir = mkdtempSync(join(tmpdir(), "imported-group-"));
    try {
      const app = new App({ outdir });
      const data = new TerraformStack(app, "data");
      new AwsProvider(data, "aws", { region: "eu-west-1" });
      const group = new RedisReplicationGroup(data, "cache", {
        vpcId: "vpc-1",
        subnetIds: ["subnet-a"],
        password: RedisPassword.fromSecretsManagerSecretArn(SECRET_ARN, KEY_ARN),
      });

      const web = new TerraformStack(app, "web");
      new AwsProvider(web, "aws", { region: "eu-west-1" });
      const webServers = new SecurityGroup(web, "web-servers", { vpcId: "vpc-1" });
      const role = new IamRole(web, "web-role", { assumeRolePolicy: "{}" });
      const cache = RedisReplicationGroup.fromAttributes(web, "cache", group.attributes);
      cache.allowFromSecurityGroup(webServers.id, "web servers");
      cache.grantReadPassword(role.name);
      app.synth();

      const json = JSON.parse(readFileSync(join(outdir, "stacks", "web", "cdk.tf.json"), "utf8")) as TerraformJson;
      const rules = Object.values(resources(json, "aws_vpc_security_group_ingress_rule"));
      expect(rules.map((r) => r.from_port).sort()).toEqual([26379, 6379]);
      for (const rule of rules) {
        expect(rule.referenced_security_group_id).toBe("${aws_security_group.web-servers.id}");
        expect(rule.security_group_id).toMatch(/^\$\{data\.terraform_remote_state\.cross-stack-reference-input-data\.outputs\.[\w-]+\}$/);
      }
      const [policy] = policies(json);
      expect(policy.role).toBe("${aws_iam_role.web-role.name}");
      expect(policy.statements).toEqual([
        { Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: SECRET_ARN },
        kmsDecryptStatement(KEY_ARN, "secretsmanager", SECRET_ARN),
        // A client through Sentinel also needs the sentinel-client user's password.
        { Effect: "Allow", Action: ["ssm:GetParameter"], Resource: expect.stringMatching(/^\$\{data\.terraform_remote_state\..*users_sentinel-client_password_/) },
      ]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  test("the group's own grantReadPassword grants the app user's and the sentinel-client user's passwords, the admin user's only through adminUser", () => {
    const stack = newStack();
    const group = new RedisReplicationGroup(stack, "cache", { vpcId: "vpc-1", subnetIds: ["subnet-a"], password: RedisPassword.fromSsmParameterArn(SSM_ARN) });
    group.grantReadPassword("app-role");
    group.adminUser.grantRead("ops-role");
    group.adminUser.grantRead("ops-role");
    const json = synthJson(stack);
    const byRole = Object.fromEntries(policies(json).map((p) => [p.role, p.statements]));
    const sentinelClientParameter = Object.keys(resources(json, "aws_ssm_parameter")).find((id) => id.startsWith("cache_users_sentinel-client_password_"));
    expect(byRole["app-role"]).toEqual([
      { Effect: "Allow", Action: ["ssm:GetParameter"], Resource: [SSM_ARN, `\${aws_ssm_parameter.${sentinelClientParameter}.arn}`] },
    ]);
    const adminParameter = Object.keys(resources(json, "aws_ssm_parameter")).find((id) => id.startsWith("cache_users_admin_password_"));
    expect(byRole["ops-role"]).toEqual([{ Effect: "Allow", Action: ["ssm:GetParameter"], Resource: `\${aws_ssm_parameter.${adminParameter}.arn}` }]);
    expect(policies(json).filter((p) => p.role === "ops-role")).toHaveLength(1);
  });
});

describe("the node roles", () => {
  test("addToNodePolicy adds a statement once to every node's own role, also after the nodes were built", () => {
    const stack = newStack();
    const group = new RedisReplicationGroup(stack, "cache", { vpcId: "vpc-1", subnetIds: ["subnet-a"], password: RedisPassword.fromSsmParameterArn(SSM_ARN) });
    const statement = { actions: ["s3:GetObject"], resources: ["arn:aws:s3:::backups/*"] };
    group.addToNodePolicy(statement);
    group.addToNodePolicy({ ...statement });
    const json = synthJson(stack);
    expect(group.nodes.map((n) => n.name)).toEqual(["master", "replica-1", "replica-2"]);
    for (const node of group.nodes) {
      const nodePolicy = resources(json, "aws_iam_role_policy")[logicalIdAt(json, "aws_iam_role_policy", `cache/${node.name}/role/read-password`)];
      const statements = JSON.parse(nodePolicy.policy).Statement;
      // The boot parts' reads, failover events and the boot library's read, then the user's statement, once.
      expect(statements.map((st: { Action: string[] }) => st.Action[0])).toEqual(["ssm:GetParameter", "events:PutEvents", "ssm:GetParameters", "s3:GetObject"]);
      expect(statements[3]).toEqual({ Effect: "Allow", Action: ["s3:GetObject"], Resource: "arn:aws:s3:::backups/*" });
    }
  });
});
