// Pure renderers: no cdktf or provider import, usable on their own.
export * from "./directives";
export * from "./values";
export * from "./redis-conf";
export * from "./sentinel-conf";
export * from "./system-tuning";
export * from "./acl";
export * from "./tls";
export * from "./cpu-list";
export * from "./metrics";
