// The public API: users import from here only, and only these names (a
// test lists them, so the surface changes only on purpose). Everything else
// under lib/ is internal and may change in any release.
export { RedisReplicationValidationError } from "./errors";
export { AppendFsync, MaxMemoryPolicy } from "./options";
export type { RedisCpuPinning, RedisServerOptions, SentinelConfigOptions } from "./options";
export { RedisPassword } from "./auth/password";
export type { GeneratedRedisPasswordOptions, RedisPasswordBinding } from "./auth/password";
export type { RedisSecretLocation } from "./auth/password";
export { SecretStore } from "./auth/secret-store";
export { TlsCertificateAuthoritySlot } from "./auth/tls-options";
export type { RedisExternalCertificateAuthority, RedisTlsOptions } from "./auth/tls-options";
export { RedisClientCertificate } from "./auth/client-certificate";
export type { RedisClientCertificateProps } from "./auth/client-certificate";
export { RedisUser } from "./auth/user";
export type { RedisUserOptions, RedisUserProps } from "./auth/user";
export { RedisNodeRole } from "./iam/node-role";
export type { RedisNodeRoleProps } from "./iam/node-role";
export type { RedisPolicyStatement } from "./iam/policy-statement";
export { RedisConnections } from "./network/connections";
export type { RedisAllowFromOptions, RedisConnectionsProps } from "./network/connections";
export { RedisPeer } from "./network/peer";
export { RedisPortKind } from "./network/port";
export type { RedisConnectionPorts } from "./network/port";
export { RedisSecurityGroup } from "./network/security-group";
export type { RedisEgressOptions, RedisSecurityGroupProps } from "./network/security-group";
export type { IRedisNode } from "./node/redis-node";
export type { RedisMonitoringOptions } from "./monitoring/monitoring-options";
export type { RedisAlarmOptions, RedisAlarmsOptions } from "./monitoring/alarms-options";
export type { RedisDataVolumeOptions } from "./node/data-volume-options";
export { RedisReplicationGroup } from "./topology/replication-group";
export { RedisReplicationGroupBase } from "./topology/replication-group-base";
export type { IRedisReplicationGroup, RedisReplicationGroupAttributes } from "./topology/replication-group-base";
export type { RedisDnsOptions, RedisEventsOptions, RedisReplicationGroupProps, SentinelOptions } from "./topology/replication-group-props";
