// Public names of the network layer; lib/index.ts re-exports them.
export { RedisPortKind } from "./port";
export type { RedisConnectionPorts } from "./port";
export { RedisPeer } from "./peer";
export type { RedisPeerRuleSource } from "./peer";
export { RedisConnections } from "./connections";
export type { RedisAllowFromOptions, RedisConnectionsProps } from "./connections";
