/** Defaults shared by the constructs; each is documented where a prop uses it. */
export const DEFAULT_REDIS_PORT = 6379;
export const DEFAULT_SENTINEL_PORT = 26379;
export const DEFAULT_INSTANCE_TYPE = "t3.medium";
export const DEFAULT_SENTINEL_INSTANCE_TYPE = "t3.micro";
export const DEFAULT_ROOT_VOLUME_GIB = 20;
export const MIN_REDIS_MAJOR = 7;
