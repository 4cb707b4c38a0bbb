import { RedisPasswordBinding } from "../auth/password";
import { BootPart, redisServerPart, secretFetchPart, sentinelPart, tuningPart } from "../boot";
import { resolveRedisConf, resolveSentinelConf } from "../options";
import { MIN_REDIS_MAJOR } from "./defaults";
import { GroupPlan, NodeKind, NodeSpec } from "./planner";

/** What every node's boot needs from the group besides the plan. */
export interface GroupBootContext {
  readonly plan: GroupPlan;
  readonly password: RedisPasswordBinding;
  /** maxmemory of data nodes when the props leave it unset (a Terraform expression). */
  readonly defaultMaxMemory: string;
}

/**
 * The boot parts of one node: which concerns it runs, each with its
 * settings resolved for this node's address and the master's.
 */
export function nodeBootParts(spec: NodeSpec, nodeAddress: string, masterAddress: string | undefined, ctx: GroupBootContext): BootPart[] {
  const { plan } = ctx;
  const master = spec.kind === NodeKind.MASTER ? nodeAddress : masterAddress;
  if (master === undefined) throw new Error(`node ${spec.id} is planned before the master`);
  const redis = spec.runsRedis
    ? resolveRedisConf(plan.redis, {
        nodeAddress,
        masterAddress: spec.kind === NodeKind.REPLICA ? master : undefined,
        masterPort: spec.kind === NodeKind.REPLICA ? plan.redisPort : undefined,
        replicaPriority: spec.replicaPriority,
        maxMemory: plan.redis.maxMemory ?? ctx.defaultMaxMemory,
      })
    : undefined;
  const parts: BootPart[] = [
    tuningPart({ tcpBacklog: redis?.tcpBacklog ?? 511 }),
    secretFetchPart({
      store: ctx.password.store,
      secretId: ctx.password.secretId,
      secretArn: ctx.password.secretArn,
      kmsKeyArn: ctx.password.kmsKeyArn,
    }),
  ];
  if (redis) {
    parts.push(redisServerPart({ conf: redis, minRedisMajor: MIN_REDIS_MAJOR, restartDelaySeconds: plan.crashRestartDelaySeconds }));
  }
  if (spec.runsSentinel) {
    const conf = resolveSentinelConf(plan.sentinel, {
      nodeAddress,
      masterAddress: master,
      masterPort: plan.redisPort,
      defaultQuorum: plan.quorum,
    });
    parts.push(sentinelPart({ conf, minRedisMajor: MIN_REDIS_MAJOR }));
  }
  return parts;
}
