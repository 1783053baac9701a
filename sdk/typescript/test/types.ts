// Compiled by `npm run check` (never run): the generated types make wrong calls fail to build.
import { Client, type RunOut } from "../src/index.js";

const client = new Client({ baseUrl: "http://localhost", apiKey: "ap_example" });

export async function typed(): Promise<RunOut[]> {
  await client.call("diffVersions", { path: { agent_id: "a" }, query: { from: 1, to: 2 } });
  await client.call("listAgents");
  // @ts-expect-error the diff needs its query (from, to)
  await client.call("diffVersions", { path: { agent_id: "a" } });
  // @ts-expect-error a run is read by its id
  await client.call("getRun", {});
  // @ts-expect-error a run's message is a string
  await client.runs.create("a", { message: 42 });
  // @ts-expect-error no such operation
  await client.call("noSuchOperation");
  return (await client.runs.list({ status: "queued" })).data;
}
