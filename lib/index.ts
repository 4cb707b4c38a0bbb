// The public API: users import from here only.
export * from "./errors";
export * from "./redis-options";
export * from "./redis-password";
export { SecretStore } from "./config/cloud-config";
export * from "./redis-security-group";
export * from "./redis-node-role";
export * from "./redis-node";
export * from "./redis-replication-group";
export * as config from "./config";
