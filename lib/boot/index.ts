// The boot of a node: parts, cloud-config assembly, compressed user data.
// No cdktf or provider import here (a test guards it): all pure functions.
export * from "./assets";
export * from "./boot-part";
export * from "./library";
export * from "./cloud-config";
export * from "./user-data";
export * from "./rotate-password";
export * from "./parts";
export * from "./render";
