// The SDK against a running API, as a user's script uses it. Run after `npm run build`:
//   AP_BASE_URL=http://127.0.0.1:8000 AP_API_KEY=ap_… AP_MODEL=openai/gpt-4o-mini node test/smoke.mjs
// Prints one JSON line of what it saw; tests/sdk/test_typescript_sdk.py checks it.
import { Agent, ApiError, Client, Tool } from "../dist/index.js";

const { AP_BASE_URL: baseUrl, AP_API_KEY: apiKey, AP_MODEL: model } = process.env;
const client = new Client({ baseUrl, apiKey });
const seen = {};

async function problem(promise) {
  try {
    await promise;
    return { thrown: false };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return {
      thrown: true,
      status: error.status,
      type: error.type,
      detail: error.detail,
      errors: error.errors,
      message: error.message,
    };
  }
}

const definition = {
  name: "SDK support bot",
  model,
  instructions: "Answer questions about {{product}}.",
  tools: [Tool.builtin("calculator"), "clock"],
  config: { temperature: 0.2 },
};
const first = await new Agent(definition).deploy(client);
seen.first = { id: first.id, created: first.created, version: first.current_version, config: first.config };

const changed = new Agent({ ...definition, instructions: "Answer briefly about {{product}}." });
const second = await changed.deploy(client);
seen.second = { id: second.id, created: second.created, version: second.current_version, newVersion: second.new_version, agentId: changed.id };

const same = await changed.deploy(client);
seen.same = { id: same.id, created: same.created, newVersion: same.new_version };

seen.exported = await client.call("exportAgent", { path: { agent_id: first.id } });

const token = await client.credential();
seen.token = { exchanged: !token.startsWith("ap_"), length: token.length };

const listed = await client.agents.list({ limit: 10 });
seen.listed = listed.data.map((a) => ({ id: a.id, name: a.name, model: a.model }));
seen.generic = (await client.call("listAgents", { query: { search: "support" } })).data.length;

const run = await client.runs.create(first.id, { message: "hello", variables: { product: "SDKs" } }, { idempotencyKey: "smoke-1" });
const again = await client.runs.create(first.id, { message: "hello", variables: { product: "SDKs" } }, { idempotencyKey: "smoke-1" });
const fetched = await client.runs.get(run.id);
const runs = await client.runs.list({ agent_id: first.id });
const cancelled = await client.runs.cancel(run.id);
const events = [];
for await (const event of client.runs.stream(run.id)) events.push(event);
seen.run = {
  id: run.id,
  status: run.status,
  sameOnRetry: again.id === run.id,
  fetched: { id: fetched.id, message: fetched.message, variables: fetched.variables, steps: fetched.steps },
  listed: runs.data.map((r) => r.id),
  cancelled: cancelled.status,
  events: events.map((e) => ({ type: e.type, status: e.data.status })),
};

const stale = new Client({ baseUrl, apiKey, accessToken: "ended-token" });
seen.staleToken = (await stale.agents.list()).data.length;
seen.staleWithoutKey = await problem(new Client({ baseUrl, accessToken: "ended-token" }).agents.list());

seen.missingAgent = await problem(client.agents.get("00000000-0000-4000-8000-000000000000"));
seen.missingRun = await problem(client.runs.get("not-a-run"));
seen.invalid = await problem(client.agents.create({ name: "Bad", config: { temperature: 9 } }));
seen.badKey = await problem(new Client({ baseUrl, apiKey: "ap_not_a_key" }).agents.list());

console.log(JSON.stringify(seen));
