import { DataAwsAmi } from "@cdktf/provider-aws/lib/data-aws-ami";
import { DataAwsEc2InstanceType } from "@cdktf/provider-aws/lib/data-aws-ec2-instance-type";
import { Annotations, Fn, Lazy, Precondition, Token } from "cdktf";
import { Construct } from "constructs";
import { RedisCertificateAuthority } from "../auth/certificate-authority";
import { RedisClientCertificate } from "../auth/client-certificate";
import { groupTag, PasswordRotation } from "../auth/password-rotation";
import { RedisPassword } from "../auth/password";
import { SecretStore } from "../auth/secret-store";
import { RedisUser } from "../auth/user";
import { BUILTIN_USERS } from "../boot/render/acl";
import { RedisPolicyStatement } from "../iam/policy-statement";
import { RedisConnections } from "../network/connections";
import { RedisSecurityGroup } from "../network/security-group";
import { datasetLimitOf, instanceStorePreconditions, SubnetZones } from "../node/data-volume";
import { defaultIoThreads, vcpuPreconditions } from "../node/instance-tuning";
import { addInstanceTypeCheck } from "../node/instance-type-check";
import { defaultMaxMemory, imageArchitecturePrecondition, lookupImage, lookupInstanceType, lookupDebianAmi } from "../node/machine-image";
import { RedisBootLibrary } from "../node/boot-library";
import { IRedisNode, RedisNode } from "../node/redis-node";
import { CpuArchitecture } from "../private/architecture";
import { stackOfOurKit } from "../private/kit";
import { GroupBootContext, nodeBootParts } from "../private/node-boot";
import { applicationUsersOf, NodeKind, NodeSpec, planGroup, rulesOf, validateGroupProps } from "../private/planner";
import { checkNow } from "../private/validation";
import { addGroupOutputs } from "./group-outputs";
import { RedisFailoverEvents } from "./failover-events";
import { sentinelMajorityOf } from "../monitoring/alarms-options";
import { RedisGroupAlarms } from "../monitoring/group-alarms";
import { RedisGroupDashboard } from "../monitoring/group-dashboard";
import { RedisGroupMetrics } from "../monitoring/group-metrics";
import { RedisDnsNames, validateDns } from "./dns-names";
import { RedisGroupMonitoring } from "../monitoring/group-monitoring";
import { RedisPortKind } from "../network/port";
import { ImportedRedisReplicationGroup } from "./imported-group";
import { IRedisReplicationGroup, RedisReplicationGroupAttributes, RedisReplicationGroupBase } from "./replication-group-base";
import { RedisReplicationGroupProps } from "./replication-group-props";

const CLIENT_CERTIFICATE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * One master, `replicaCount` replicas and Redis Sentinel for automatic
 * failover, on EC2, with the security group, instance role and password.
 */
export class RedisReplicationGroup extends RedisReplicationGroupBase {
  /**
   * A group created in another stack or app, by its attributes: allow
   * clients in and grant roles the password from here.
   */
  public static fromAttributes(scope: Construct, id: string, attrs: RedisReplicationGroupAttributes): IRedisReplicationGroup {
    return new ImportedRedisReplicationGroup(scope, id, attrs);
  }

  /** Address of the node created as master. After a failover, ask Sentinel. @attribute */
  public readonly masterAddress: string;
  /** @attribute */
  public readonly replicaAddresses: string[];
  /** Addresses of the sentinels (empty when Sentinel is disabled). @attribute */
  public readonly sentinelAddresses: string[];
  /** The name clients give Sentinel. @attribute */
  public readonly masterName: string;
  /** @attribute */
  public readonly securityGroupId: string;
  /** ARN of the secret of the first application user's password ("app" by default). @attribute */
  public readonly passwordSecretArn: string;
  /**
   * Name of the SSM parameter that holds the first application user's
   * password: "/redis-replication/<group path>/users/app/password" when the
   * library generates it; for a password you bring, the ARN you gave (SSM's
   * GetParameter and Secrets Manager's GetSecretValue take it as the name).
   * @attribute
   */
  public readonly passwordParameterName: string;
  /**
   * The group's CA certificate (PEM): clients verify the nodes with it
   * (ioredis `tls: { ca }`, `redis-cli --tls --cacert`). Undefined when TLS is off.
   * @attribute
   */
  public readonly caCertificatePem?: string;
  /**
   * The SSM Command document that rotates a user's password on the nodes
   * (steps add, switch, retire; see the README's "Rotating a password").
   * @attribute
   */
  public readonly rotatePasswordDocumentName: string;
  /**
   * What `aws ssm send-command --targets` takes to run the document on every
   * node of the group: `Key=tag:redis-replication-group,Values=<group path>`.
   * @attribute
   */
  public readonly rotatePasswordTargets: string;
  /**
   * The event bus the sentinels publish their failover events to (the
   * region's default bus unless `events.eventBusArn` says otherwise);
   * undefined when events are off.
   * @attribute
   */
  public readonly eventBusArn?: string;
  /** The EventBridge rule forwarding the group's events to `events.snsTopicArn`, if given. @attribute */
  public readonly eventRuleArn?: string;
  /**
   * The CloudWatch Logs group of the nodes' Redis and Sentinel logs and of
   * their metrics' EMF events; undefined when monitoring is off.
   * @attribute
   */
  public readonly logGroupName?: string;
  /** The private hosted zone of the writer and reader names; undefined without `dns`. @attribute */
  public readonly dnsZoneId?: string;
  /** The name that points at the master (Route 53, kept by the sentinels); undefined without `dns`. @attribute */
  public readonly writerName?: string;
  /** The name that lists the healthy replicas; undefined without `dns`. @attribute */
  public readonly readerName?: string;
  /** The port of every node's metrics exporter; undefined when monitoring is off. @attribute */
  public readonly metricsPort?: number;
  /**
   * Names of the group's CloudWatch alarms (empty when monitoring or
   * `monitoring.alarms` is off): "redis-replication-<group path>-<node>-<alarm>"
   * per node, "redis-replication-<group path>-<alarm>" per group.
   * @attribute
   */
  public readonly alarmNames: string[];
  /** ARNs of the group's CloudWatch alarms, in the order of `alarmNames`. @attribute */
  public readonly alarmArns: string[];
  /** The group's CloudWatch dashboard; undefined when monitoring or `monitoring.dashboard` is off. @attribute */
  public readonly dashboardName?: string;
  /** The application users, in the order of the `users` prop. */
  public readonly users: RedisUser[];
  /** Operators' user: every command on data nodes and sentinels. Grant its password with `adminUser.grantRead`. */
  public readonly adminUser: RedisUser;
  /** Read-only statistics (INFO, PING, SLOWLOG GET, LATENCY), for metrics agents. */
  public readonly monitorUser: RedisUser;
  /** The user clients give the sentinels: master discovery only (undefined when Sentinel is off). */
  public readonly sentinelClientUser?: RedisUser;
  public readonly redisPort: number;
  public readonly sentinelPort: number;
  public readonly securityGroup: RedisSecurityGroup;
  public readonly connections: RedisConnections;
  /** Every node: the master, the replicas, then dedicated sentinels. Each has its own instance role (`node.role`). */
  public readonly nodes: IRedisNode[];
  /** The node created as master. */
  public readonly master: IRedisNode;
  public readonly replicas: IRedisNode[];
  /** Dedicated sentinel nodes (empty when sentinels run on the data nodes). */
  public readonly sentinelNodes: IRedisNode[];
  protected readonly passwordSecretStore: SecretStore;
  protected readonly passwordKmsKeyArn?: string;
  protected readonly sentinelClientPasswordSecretArn?: string;
  private readonly amis = new Map<CpuArchitecture, string>();
  private readonly givenImages = new Map<string, DataAwsAmi>();
  private readonly certificateAuthority?: RedisCertificateAuthority;
  private readonly tags?: { [key: string]: string };
  private clientCertificates?: Construct;

  constructor(scope: Construct, id: string, props: RedisReplicationGroupProps) {
    super(scope, id);
    const problems = validateGroupProps(props);
    validateDns(problems, props.dns, id, props.sentinel?.enabled ?? true);
    problems.throwIfAny(this);
    const plan = planGroup(props);
    for (const warning of plan.warnings) Annotations.of(this).addWarning(warning);

    this.redisPort = plan.redisPort;
    this.sentinelPort = plan.sentinelPort;
    this.masterName = plan.masterName;
    this.securityGroup = new RedisSecurityGroup(this, "security-group", {
      vpcId: props.vpcId,
      redisPort: plan.redisPort,
      sentinelPort: plan.sentinelPort,
      metricsPort: plan.monitoring?.exporterPort,
      allowAllOutbound: props.allowAllOutbound,
      egress: props.egress,
      tags: props.tags,
    });
    this.securityGroupId = this.securityGroup.securityGroupId;
    this.connections = this.securityGroup.connections;
    for (const sg of props.allowedSecurityGroupIds ?? []) this.allowFromSecurityGroup(sg);
    for (const cidr of props.allowedCidrs ?? []) this.allowFromCidr(cidr);
    for (const peer of plan.monitoring?.allowScrapeFrom ?? []) {
      this.connections.allowFrom(peer, { ports: [RedisPortKind.METRICS], description: `${peer.defaultDescription} (monitoring.allowScrapeFrom)` });
    }
    this.metricsPort = plan.monitoring?.exporterPort;

    // Every user has its own secret; the default user is off.
    const users = new Construct(this, "users");
    const userNamed = (name: string, password?: RedisPassword) => new RedisUser(users, name, { userName: name, password });
    const applicationUsers = applicationUsersOf(props);
    this.users = applicationUsers.map((u) => userNamed(u.name, u.password));
    this.adminUser = userNamed(BUILTIN_USERS.admin);
    this.monitorUser = userNamed(BUILTIN_USERS.monitor);
    const replicationUser = userNamed(BUILTIN_USERS.replication);
    const sentinelUsers = plan.sentinelEnabled
      ? {
          sentinel: userNamed(BUILTIN_USERS.sentinel),
          sentinelPeer: userNamed(BUILTIN_USERS.sentinelPeer),
          sentinelClient: userNamed(BUILTIN_USERS.sentinelClient),
          // The data nodes' planned failover on dedicated sentinels (a node with its own uses node-ops).
          nodeHandover: plan.nodes.some((n) => n.runsSentinel && !n.runsRedis) ? userNamed(BUILTIN_USERS.nodeHandover) : undefined,
        }
      : undefined;
    this.sentinelClientUser = sentinelUsers?.sentinelClient;
    const appPassword = this.users[0].password;
    this.passwordSecretArn = appPassword.secretArn;
    this.passwordParameterName = appPassword.secretId;
    this.passwordSecretStore = appPassword.store;
    this.passwordKmsKeyArn = appPassword.kmsKeyArn;
    this.sentinelClientPasswordSecretArn = this.sentinelClientUser?.passwordSecretArn;
    const { signingCertificateAuthority: signing, trustedCertificateAuthorities: trusted } = plan.tls;
    const certificateAuthority = plan.tls.enabled ? new RedisCertificateAuthority(this, "tls", { tags: props.tags, signing, trusted, external: props.tls?.certificateAuthorities }) : undefined;
    this.certificateAuthority = certificateAuthority;
    this.caCertificatePem = certificateAuthority?.certificatePem;
    this.tags = props.tags;
    const rotation = new PasswordRotation(this, "rotate-password", { tags: props.tags });
    this.rotatePasswordDocumentName = rotation.documentName;
    this.rotatePasswordTargets = rotation.targets;
    // Every node carries the group's tag: the rotation is sent to all of them by it.
    const tag = groupTag(this);
    const nodeTags = { ...props.tags, [tag.key]: tag.value };

    // One lookup per distinct instance type, made only when something needs it. The data nodes':
    // the default maxmemory and io-threads, the vCPU and data volume checks; any node's: the image check.
    const dataType = plan.nodes[0].instanceType;
    const typeLookups = new Map<string, DataAwsEc2InstanceType>();
    const lookupType = (name: string) => {
      let lookup = typeLookups.get(name);
      if (lookup === undefined) {
        lookup = lookupInstanceType(this, name === dataType ? "instance-type" : "sentinel-instance-type", name);
        typeLookups.set(name, lookup);
      }
      return lookup;
    };
    const lookupDataType = () => lookupType(dataType);
    // Events name the group by its construct path, which is unique in the app.
    const events = plan.eventsEnabled ? new RedisFailoverEvents(this, "events", this.node.path, props.events ?? {}, props.tags) : undefined;
    this.eventBusArn = events?.eventBusArn;
    this.eventRuleArn = events?.ruleArn;
    const monitoring = plan.monitoring
      ? new RedisGroupMonitoring(this, "monitoring", { spec: plan.monitoring, nodeTag: tag, tags: props.tags })
      : undefined;
    this.logGroupName = monitoring?.logGroupName;
    const dns = props.dns ? new RedisDnsNames(this, "dns", { options: props.dns, groupId: id, vpcId: props.vpcId, tags: props.tags }) : undefined;
    this.dnsZoneId = dns?.zoneId;
    this.writerName = dns?.writerName;
    this.readerName = dns?.readerName;

    const asBootUser = (u: RedisUser) => ({ name: u.userName, password: u.password });
    const boot: GroupBootContext = {
      plan,
      users: {
        replication: asBootUser(replicationUser),
        admin: asBootUser(this.adminUser),
        monitor: asBootUser(this.monitorUser),
        sentinel: sentinelUsers && asBootUser(sentinelUsers.sentinel),
        sentinelPeer: sentinelUsers && asBootUser(sentinelUsers.sentinelPeer),
        sentinelClient: sentinelUsers && asBootUser(sentinelUsers.sentinelClient),
        nodeHandover: sentinelUsers?.nodeHandover && asBootUser(sentinelUsers.nodeHandover),
        applications: applicationUsers.map((options, i) => ({ user: asBootUser(this.users[i]), rules: rulesOf(options) })),
      },
      defaultMaxMemory: plan.redis.maxMemory ?? defaultMaxMemory(lookupDataType()),
      // Redis 7.0's threaded I/O does not work with TLS.
      defaultIoThreads: plan.tls.enabled || plan.redis.ioThreads !== undefined ? 1 : defaultIoThreads(lookupDataType()),
      events: events?.context,
      dns: dns?.settings,
      monitoring: monitoring && {
        group: this.node.path,
        logGroupArn: monitoring.logGroupArn,
        agentConfigParameterArn: monitoring.agentConfigParameterArn,
      },
      // Every data node's boot asks the sentinels; the nodes made after it too.
      sentinelAddresses: Lazy.stringValue({ produce: () => this.sentinelAddresses.join(" ") }),
    };
    const subnetAt = (i: number) =>
      Token.isUnresolved(props.subnetIds) ? Fn.element(props.subnetIds, i) : props.subnetIds[i % props.subnetIds.length];
    // A volume's zone comes from its node's subnet, never from the instance.
    const zones = new SubnetZones(this);
    const dataVolumeOf = (spec: NodeSpec, subnetId: string) => {
      if (spec.dataVolume?.kind !== "ebs") return undefined;
      const instanceType = { name: spec.instanceType, lookup: lookupDataType() };
      const sizeKnownAtSynth = !Token.isUnresolved(spec.dataVolume.sizeGiB);
      return { availabilityZone: zones.of(subnetId), instanceType, datasetLimit: datasetLimitOf(plan.redis.maxMemory, sizeKnownAtSynth, instanceType) };
    };
    const bootLibrary = new RedisBootLibrary(this, "boot-library", { tags: props.tags });
    const dataNodeChecks = [...vcpuPreconditions(plan.redis, dataType, lookupDataType)];
    if (plan.nodes[0].dataVolume?.kind === "instance-store") {
      const instanceType = { name: dataType, lookup: lookupDataType() };
      dataNodeChecks.push(...instanceStorePreconditions(instanceType, datasetLimitOf(plan.redis.maxMemory, false, instanceType)));
    }
    let masterAddress: string | undefined;
    const nodes = plan.nodes.map((spec) => {
      const subnetId = subnetAt(spec.subnetIndex);
      const node = new RedisNode(this, spec.id, {
        spec,
        subnetId,
        securityGroupIds: [this.securityGroupId],
        amiId: spec.amiId ?? this.defaultAmi(spec.architecture),
        keyName: props.keyName,
        tags: nodeTags,
        dataVolume: dataVolumeOf(spec, subnetId),
        preconditions: [...(spec.runsRedis ? dataNodeChecks : []), ...this.imageChecks(spec, props, lookupType)],
        bootLibrary,
        bootParts: ({ address, dataVolumeId }) =>
          nodeBootParts(spec, { address, dataVolumeId, tls: certificateAuthority?.issueNodeCertificate(spec.id, address) }, masterAddress, boot),
      });
      if (spec.kind === NodeKind.MASTER) masterAddress = node.privateIp;
      return { spec, node };
    });
    addInstanceTypeCheck(
      this,
      "instance-types",
      nodes.map(({ spec, node }) => ({
        node: node.node.path,
        instance: node.instance,
        instanceType: spec.instanceType,
        prop: spec.kind === NodeKind.SENTINEL ? "sentinel.dedicatedInstanceType" : "instanceType",
      })),
    );
    const ofKind = (kind: NodeKind) => nodes.filter((n) => n.spec.kind === kind).map((n) => n.node);
    this.nodes = nodes.map((n) => n.node);
    this.master = ofKind(NodeKind.MASTER)[0];
    this.replicas = ofKind(NodeKind.REPLICA);
    this.sentinelNodes = ofKind(NodeKind.SENTINEL);
    this.masterAddress = this.master.privateIp;
    this.replicaAddresses = this.replicas.map((r) => r.privateIp);
    this.sentinelAddresses = nodes.filter((n) => n.spec.runsSentinel).map((n) => n.node.privateIp);
    dns?.addRecords(this.masterAddress, this.replicaAddresses);

    const monitored = nodes.map(({ spec, node }) => ({ name: node.name, address: node.privateIp, instanceId: node.instanceId, runsRedis: spec.runsRedis, runsSentinel: spec.runsSentinel }));
    const metrics = new RedisGroupMetrics(this.node.path);
    const alarmsSpec = plan.monitoring?.alarms;
    const alarms = alarmsSpec && new RedisGroupAlarms(this, "alarms", { spec: alarmsSpec, metrics, nodes: monitored, tags: props.tags });
    this.alarmNames = alarms?.alarmNames ?? [];
    this.alarmArns = alarms?.alarmArns ?? [];
    if (plan.monitoring?.dashboard) {
      // The line the sentinels' graph must stay on or above: the alarm's threshold.
      const sentinelMajority = plan.sentinelEnabled ? (alarmsSpec?.alarms.sentinelMajority?.threshold ?? sentinelMajorityOf(plan.sentinelCount)) : undefined;
      this.dashboardName = new RedisGroupDashboard(this, "dashboard", { metrics, nodes: monitored, alarmArns: this.alarmArns, sentinelMajority }).dashboardName;
    }

    if (props.outputs ?? true) this.addOutputs(plan.sentinelEnabled);
  }

  /** What `fromAttributes` needs to use this group from another stack. */
  public get attributes(): RedisReplicationGroupAttributes {
    return {
      securityGroupId: this.securityGroupId,
      passwordSecretArn: this.passwordSecretArn,
      passwordSecretStore: this.passwordSecretStore,
      passwordKmsKeyArn: this.passwordKmsKeyArn,
      sentinelClientPasswordSecretArn: this.sentinelClientPasswordSecretArn,
      caCertificatePem: this.caCertificatePem,
      masterName: this.masterName,
      sentinelAddresses: this.sentinelAddresses,
      redisPort: this.redisPort,
      sentinelPort: this.sentinelPort,
      metricsPort: this.metricsPort,
    };
  }

  /**
   * A client certificate of the group's CA, named `name` (its parameters are
   * "/redis-replication/<group path>/tls/clients/<name>/key" and
   * ".../certificate"): what a client presents when
   * `tls.requireClientCertificates` is on. The same name gives the same
   * certificate. Grant an application its files with `grantRead`.
   */
  public issueClientCertificate(name: string): RedisClientCertificate {
    const ca = this.certificateAuthority;
    checkNow(this, (problems) => {
      if (!ca) problems.add("issueClientCertificate needs TLS, and tls.enabled is false");
      if (!CLIENT_CERTIFICATE_NAME.test(name)) problems.add(`client certificate name "${name}" is invalid: use 1-64 letters, digits, '.', '_' or '-'`);
    });
    this.clientCertificates ??= new Construct(ca!, "clients");
    const existing = this.clientCertificates.node.tryFindChild(name);
    if (existing instanceof RedisClientCertificate) return existing;
    return new RedisClientCertificate(this.clientCertificates, name, { caCertificatePem: ca!.signingCertificatePem, caPrivateKeyPem: ca!.privateKeyPem, tags: this.tags });
  }

  /** Opens Redis and Sentinel to every IPv4 address. Only for those who ask by name. */
  public allowFromAnyIpv4(description?: string): void {
    this.connections.allowFromAnyIpv4(description);
  }

  /**
   * Adds a statement to the instance role of every node (each node has its
   * own role, so that it reads only its own secrets). For one node only:
   * `group.nodes[i].role.addToPolicy`. The same statement twice is added once.
   */
  public addToNodePolicy(statement: RedisPolicyStatement): void {
    for (const node of this.nodes) node.role.addToPolicy(statement);
  }

  /**
   * A given image's architecture against the node's instance type, at plan:
   * one image lookup per distinct given image, shared by the nodes.
   */
  private imageChecks(spec: NodeSpec, props: RedisReplicationGroupProps, lookupType: (name: string) => DataAwsEc2InstanceType): Precondition[] {
    if (spec.amiId === undefined) return [];
    const sentinel = spec.kind === NodeKind.SENTINEL;
    const own = sentinel && props.sentinel?.dedicatedAmiId !== undefined;
    let image = this.givenImages.get(spec.amiId);
    if (image === undefined) {
      image = lookupImage(this, own ? "sentinel-given-ami" : "given-ami", spec.amiId);
      this.givenImages.set(spec.amiId, image);
    }
    return [
      imageArchitecturePrecondition({
        node: `${this.node.path}/${spec.id}`,
        amiId: spec.amiId,
        imageArchitecture: image.architecture,
        instanceType: spec.instanceType,
        typeArchitectures: lookupType(spec.instanceType).supportedArchitectures,
        prop: own ? "sentinel.dedicatedAmiId" : "amiId",
        overrideProp: sentinel && !own ? "sentinel.dedicatedAmiId" : undefined,
      }),
    ];
  }

  /** One image lookup per CPU architecture, shared by the nodes. */
  private defaultAmi(architecture: CpuArchitecture): string {
    let ami = this.amis.get(architecture);
    if (ami === undefined) {
      ami = lookupDebianAmi(this, `ami-${architecture}`, architecture);
      this.amis.set(architecture, ami);
    }
    return ami;
  }

  private addOutputs(sentinelEnabled: boolean): void {
    const sentinelClient = this.sentinelClientUser;
    addGroupOutputs(this, stackOfOurKit(this), [
      ["master-address", { value: this.masterAddress, description: "Private address of the node created as master (after a failover, ask Sentinel)" }],
      ["replica-addresses", { value: this.replicaAddresses, description: "Private addresses of the replicas" }],
      ...(sentinelEnabled
        ? ([
            ["sentinel-addresses", { value: this.sentinelAddresses, description: "Addresses of the sentinels" }],
            ["master-name", { value: this.masterName, description: "Master name to give Sentinel" }],
          ] as const)
        : []),
      ...(this.caCertificatePem !== undefined
        ? ([["ca-certificate", { value: this.caCertificatePem, description: "CA certificate (PEM) that clients verify the nodes with" }]] as const)
        : []),
      [
        "rotate-password-document",
        { value: this.rotatePasswordDocumentName, description: "SSM document that rotates a user's password on the nodes (aws ssm send-command --document-name)" },
      ],
      ["rotate-password-targets", { value: this.rotatePasswordTargets, description: "aws ssm send-command --targets value that selects every node of the group" }],
      ["security-group-id", { value: this.securityGroupId, description: "Security group of the Redis nodes" }],
      [
        "password-secret-arn",
        { value: this.passwordSecretArn, description: "ARN of the parameter or secret holding the Redis password (the value is never an output)" },
      ],
      [
        "password-parameter-name",
        { value: this.passwordParameterName, description: "Name of the SSM parameter holding the application user's password (the ARN for a password you brought)" },
      ],
      ...(sentinelClient
        ? ([
            [
              "sentinel-client-password-parameter-name",
              { value: sentinelClient.password.secretId, description: "Name of the SSM parameter holding the sentinel-client user's password" },
            ],
          ] as const)
        : []),
    ]);
  }
}
