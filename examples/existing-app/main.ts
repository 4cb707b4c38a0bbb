// Adding Redis to an existing CDKTF app: the VPC and subnets come from data
// sources, so their ids are tokens until Terraform resolves them. In your
// app, import from "cdktf-redis-replication" instead of "../../lib".
import { DataAwsSubnets } from "@cdktf/provider-aws/lib/data-aws-subnets";
import { DataAwsVpc } from "@cdktf/provider-aws/lib/data-aws-vpc";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { App, TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { MaxMemoryPolicy, RedisPassword, RedisReplicationGroup } from "../../lib";

export class ExistingAppStack extends TerraformStack {
  public readonly cache: RedisReplicationGroup;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    new AwsProvider(this, "aws", { region: "eu-west-1" });

    const vpc = new DataAwsVpc(this, "vpc", { tags: { Name: "main" } });
    const privateSubnets = new DataAwsSubnets(this, "private-subnets", {
      filter: [{ name: "vpc-id", values: [vpc.id] }],
      tags: { Tier: "private" },
    });
    const webServers = new SecurityGroup(this, "web-servers", { vpcId: vpc.id, description: "web servers" });

    this.cache = new RedisReplicationGroup(this, "cache", {
      vpcId: vpc.id,
      subnetIds: privateSubnets.ids, // a list token: placed with element(), round-robin
      replicaCount: 2,
      instanceType: "r7g.large", // Graviton: the arm64 Debian 12 image is looked up
      password: RedisPassword.generated({ parameterName: "/web/redis/password" }),
      redis: { maxMemoryPolicy: MaxMemoryPolicy.ALLKEYS_LRU, appendOnly: false },
      // r7g.large: 16 GiB, maxmemory 70% of it; the volume holds the dataset twice.
      dataVolume: { sizeGiB: 40 },
      sentinel: { masterName: "web-cache" },
    });
    this.cache.allowFromSecurityGroup(webServers.id, "web servers");
    this.cache.allowFromCidr("10.20.0.0/16", "office VPN");

    new TerraformOutput(this, "redis-sentinels", { value: this.cache.sentinelAddresses });
  }
}

if (require.main === module) {
  const app = new App();
  new ExistingAppStack(app, "existing-app");
  app.synth();
}
