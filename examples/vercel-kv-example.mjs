// The @vercel/kv example from the kvedge brief, runnable as is against `make run`:
//   KV_REST_API_URL=http://127.0.0.1:8080/kv KV_REST_API_TOKEN=kvedge-quickstart-token node examples/vercel-kv-example.mjs
// Nothing here knows about kvedge: an app written for Vercel KV only changes the two variables.
import { createClient } from '@vercel/kv';

const client = createClient({ url: process.env.KV_REST_API_URL, token: process.env.KV_REST_API_TOKEN });

const key = 'example:greeting';
const value = { text: 'hello from kvedge', at: new Date().toISOString() };
await client.set(key, value);
console.log('get', key, '=>', await client.get(key));

await client.set('mykey', 'myvalue', { ex: 3600 });
console.log('mykey ttl', await client.ttl('mykey'));

// one key per DEL: keys of several hash slots in one command are refused (CROSSSLOT) on a Redis Cluster store
for (const k of ['example:list', 'example:set', 'example:hash']) await client.del(k);
await client.lpush('example:list', 'a', 'b', 'c');
console.log('lrange', await client.lrange('example:list', 0, -1));
await client.sadd('example:set', 'x', 'y', 'x');
console.log('smembers', (await client.smembers('example:set')).sort());
await client.hset('example:hash', { name: 'kvedge', stars: 5 });
console.log('hgetall', await client.hgetall('example:hash'));
console.log('incr', await client.incr('example:counter'));

const keys = [];
for await (const k of client.scanIterator({ match: 'example:*' })) keys.push(k);
console.log('scan', keys.sort());
