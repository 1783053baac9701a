// Follow one run's events with the SDK and print them as one JSON line (used by the tests):
//   AP_BASE_URL=… AP_API_KEY=… AP_RUN_ID=… node test/follow.mjs
import { Client } from "../dist/index.js";

const { AP_BASE_URL: baseUrl, AP_API_KEY: apiKey, AP_RUN_ID: runId } = process.env;
const client = new Client({ baseUrl, apiKey });
const events = [];
for await (const event of client.runs.stream(runId)) events.push(event);
console.log(JSON.stringify(events));
