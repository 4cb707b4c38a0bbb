export * from "./tuning";
export * from "./secret-fetch";
export * from "./redis-server";
export * from "./redis-role";
export * from "./sentinel";
export * from "./tls";
export * from "./data-volume";
export * from "./sentinel-events";
