export { Client, Agents, Runs } from "./client.js";
export type { CallArgs, ClientOptions, ListOptions, Page, RunEvent, RunListOptions } from "./client.js";
export { Agent, Tool } from "./agent.js";
export type { AgentDefinition, Deployed, ToolRef } from "./agent.js";
export { ApiError } from "./errors.js";
export { readEvents } from "./sse.js";
export type { ServerSentEvent } from "./sse.js";
export * from "./schema.js";
