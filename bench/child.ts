// One measurement: runs in a fresh node process (compiled JS), synthesizes one
// scenario into argv[3], then prints {ms, maxRssKB} as JSON on stdout.
//   ms:       performance.now() at the end = wall time since this process started
//             (performance.timeOrigin), so module loading is included.
//   maxRssKB: process.resourceUsage().maxRSS, peak RSS of this process in KiB.
// Modules are required inside each scenario so nothing unneeded is loaded.
import { performance } from "perf_hooks";

type Cdktf = typeof import("cdktf");
type Lib = typeof import("../lib");
type Provider = typeof import("@cdktf/provider-aws/lib/provider");

const [scenario, outdir] = process.argv.slice(2);
const VPC = "vpc-0123456789abcdef0";
const SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1", "subnet-0123456789abcdef2"];

function groupsStack(groups: number, replicaCount: number, props: Partial<import("../lib").RedisReplicationGroupProps> = {}): void {
  const { App, TerraformStack } = require("cdktf") as Cdktf;
  const { AwsProvider } = require("@cdktf/provider-aws/lib/provider") as Provider;
  const { RedisReplicationGroup } = require("../lib") as Lib;
  const app = new App({ outdir });
  const stack = new TerraformStack(app, "bench");
  new AwsProvider(stack, "aws", { region: "us-east-1" });
  for (let i = 0; i < groups; i++) {
    new RedisReplicationGroup(stack, `redis-${i}`, { vpcId: VPC, subnetIds: SUBNETS, replicaCount, ...props });
  }
  app.synth();
}

switch (scenario) {
  case "floor": {
    const { App, TerraformStack } = require("cdktf") as Cdktf;
    const app = new App({ outdir });
    new TerraformStack(app, "floor");
    app.synth();
    break;
  }
  case "floor-provider": {
    const { App, TerraformStack } = require("cdktf") as Cdktf;
    const { AwsProvider } = require("@cdktf/provider-aws/lib/provider") as Provider;
    const app = new App({ outdir });
    new AwsProvider(new TerraformStack(app, "floor"), "aws", { region: "us-east-1" });
    app.synth();
    break;
  }
  case "basic": {
    const { App } = require("cdktf") as Cdktf;
    const { BasicExampleStack } = require("../examples/basic/main") as typeof import("../examples/basic/main");
    const app = new App({ outdir });
    new BasicExampleStack(app, "basic", {});
    app.synth();
    break;
  }
  case "group-1m2r":
    groupsStack(1, 2);
    break;
  case "group-1m2r-given-amis":
    // Images the user gives: each one's architecture is checked against its instance type at plan.
    groupsStack(1, 2, { amiId: "ami-0123456789abcdef0", sentinel: { dedicatedNodeCount: 3, dedicatedAmiId: "ami-0fedcba9876543210" } });
    break;
  case "group-1m5r":
    groupsStack(1, 5);
    break;
  case "groups-10x3":
    groupsStack(10, 2);
    break;
  case "ref-provider-aws-root":
    require("@cdktf/provider-aws"); // no synth: import cost only
    break;
  default:
    throw new Error(`unknown scenario ${scenario}`);
}

process.stdout.write(JSON.stringify({ ms: performance.now(), maxRssKB: process.resourceUsage().maxRSS }));
