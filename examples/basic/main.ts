// A complete stack for an empty AWS account: network, NAT for apt, and a
// Redis master with two replicas and three sentinels in private subnets.
//   cdktf deploy   (needs AWS credentials; see README)
import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Route } from "@cdktf/provider-aws/lib/route";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { App, Fn, TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { RedisDnsOptions, RedisMonitoringOptions, RedisReplicationGroup, SentinelOptions } from "../../lib";

export interface BasicExampleStackProps {
  /** @default "us-east-1" */
  readonly region?: string;
  /** @default "10.0.0.0/16" */
  readonly vpcCidr?: string;
  /** Private subnets (one per availability zone). @default 3 */
  readonly zoneCount?: number;
  /** Metrics and logs in CloudWatch (see the README's "Metrics and logs"). @default - off */
  readonly monitoring?: RedisMonitoringOptions;
  /** Writer and reader names in Route 53 (see the README's "Writer and reader names"). @default - none */
  readonly dns?: RedisDnsOptions;
  /** Sentinel settings, e.g. dedicated sentinel nodes (see the README's "Sentinel and failover"). @default - a sentinel on each data node */
  readonly sentinel?: SentinelOptions;
  /** The data nodes' instance type. @default "t3.medium" (the library's default) */
  readonly instanceType?: string;
  /**
   * The data on the instance type's NVMe instance store instead of EBS
   * volumes (a type with one, such as r6id.large; see the README's "On the
   * instance store"). @default false
   */
  readonly instanceStore?: boolean;
}

export class BasicExampleStack extends TerraformStack {
  public readonly redis: RedisReplicationGroup;
  public readonly appSecurityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: BasicExampleStackProps = {}) {
    super(scope, id);
    new AwsProvider(this, "aws", {
      region: props.region ?? "us-east-1",
      defaultTags: [{ tags: { Project: "redis-replication-example", Stack: id } }],
    });
    const zones = new DataAwsAvailabilityZones(this, "zones", { state: "available" });
    const vpcCidr = props.vpcCidr ?? "10.0.0.0/16";
    const vpc = new Vpc(this, "vpc", { cidrBlock: vpcCidr, enableDnsHostnames: true, enableDnsSupport: true });

    // One public subnet holds the NAT gateway: the nodes install Redis from
    // apt at boot and reach SSM and the secret store through it.
    const igw = new InternetGateway(this, "igw", { vpcId: vpc.id });
    const publicSubnet = new Subnet(this, "public", {
      vpcId: vpc.id,
      cidrBlock: Fn.cidrsubnet(vpcCidr, 8, 0),
      availabilityZone: Fn.element(zones.names, 0),
      tags: { Name: `${id}-public` },
    });
    const publicRoutes = new RouteTable(this, "public-routes", { vpcId: vpc.id });
    new Route(this, "public-default", { routeTableId: publicRoutes.id, destinationCidrBlock: "0.0.0.0/0", gatewayId: igw.id });
    new RouteTableAssociation(this, "public-assoc", { subnetId: publicSubnet.id, routeTableId: publicRoutes.id });
    const natIp = new Eip(this, "nat-ip", { domain: "vpc" });
    const nat = new NatGateway(this, "nat", { subnetId: publicSubnet.id, allocationId: natIp.id, dependsOn: [igw] });
    const privateRoutes = new RouteTable(this, "private-routes", { vpcId: vpc.id });
    new Route(this, "private-default", { routeTableId: privateRoutes.id, destinationCidrBlock: "0.0.0.0/0", natGatewayId: nat.id });

    const privateSubnetIds: string[] = [];
    for (let i = 0; i < (props.zoneCount ?? 3); i++) {
      const subnet = new Subnet(this, `private-${i + 1}`, {
        vpcId: vpc.id,
        cidrBlock: Fn.cidrsubnet(vpcCidr, 8, 10 + i),
        availabilityZone: Fn.element(zones.names, i),
        tags: { Name: `${id}-private-${i + 1}` },
      });
      new RouteTableAssociation(this, `private-assoc-${i + 1}`, { subnetId: subnet.id, routeTableId: privateRoutes.id });
      privateSubnetIds.push(subnet.id);
    }

    // Application servers join this group to reach Redis and Sentinel.
    this.appSecurityGroup = new SecurityGroup(this, "app-clients", {
      vpcId: vpc.id,
      description: "Application servers allowed to use Redis",
      tags: { Name: `${id}-app-clients` },
    });

    this.redis = new RedisReplicationGroup(this, "redis", {
      vpcId: vpc.id,
      subnetIds: privateSubnetIds,
      replicaCount: 2,
      allowedSecurityGroupIds: [this.appSecurityGroup.id],
      instanceType: props.instanceType,
      // A demo you destroy when done: keep the default (true) where the data matters.
      dataVolume: props.instanceStore ? { instanceStore: true } : { preventDestroy: false },
      monitoring: props.monitoring,
      dns: props.dns,
      sentinel: props.sentinel,
    });
    new TerraformOutput(this, "app-security-group-id", { value: this.appSecurityGroup.id });
  }
}

if (require.main === module) {
  const app = new App();
  new BasicExampleStack(app, "redis-replication-basic", { region: process.env.AWS_REGION });
  app.synth();
}
