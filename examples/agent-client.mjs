// lifeline's keep-alive agent with http.get, axios and got. Shown in README.md and docs/agent.md.
// Run: node examples/agent-client.mjs http://127.0.0.1:8080/ (needs axios and got installed).
import http from 'node:http';
import axios from 'axios';
import got from 'got';
import { KeepAliveAgent } from 'lifeline-keepalive/agent';

const url = process.argv[2] ?? 'http://127.0.0.1:8080/';
const agent = new KeepAliveAgent(); // instead of new http.Agent({ keepAlive: true })

await new Promise((resolve, reject) => http.get(url, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject)); // http.request
await axios.get(url, { httpAgent: agent }); // axios
await got(url, { agent: { http: agent } }); // got
console.log('3 requests over', JSON.stringify(agent.stats()));
agent.destroy();
