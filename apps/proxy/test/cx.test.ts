import { describe, expect, it } from 'vitest';
import { clientOptionsFrom, resolveProxyConfig } from '../src/index.ts';
import { llmNode } from './support/mesh.ts';
import { startProxy } from './support/proxy.ts';

const ENV = { IICP_PROXY_DIRECTORY_URL: 'http://127.0.0.1:8090' };

describe('IICP-CX through the proxy', () => {
  it('--allow-plaintext / IICP_PROXY_ALLOW_PLAINTEXT pass through to the client; off by default', () => {
    expect(clientOptionsFrom(resolveProxyConfig({}, ENV)).allowPlaintext).toBeUndefined();
    expect(
      clientOptionsFrom(resolveProxyConfig({ 'allow-plaintext': 'true' }, ENV)).allowPlaintext,
    ).toBe(true);
    expect(
      clientOptionsFrom(resolveProxyConfig({}, { ...ENV, IICP_PROXY_ALLOW_PLAINTEXT: '1' }))
        .allowPlaintext,
    ).toBe(true);
    expect(
      clientOptionsFrom(resolveProxyConfig({}, { ...ENV, IICP_PROXY_ALLOW_PLAINTEXT: 'false' }))
        .allowPlaintext,
    ).toBeUndefined();
    expect(() => resolveProxyConfig({}, { ...ENV, IICP_PROXY_ALLOW_PLAINTEXT: 'maybe' })).toThrow(
      /--allow-plaintext/,
    );
  });

  it('refuses a keyless node by default: an error naming the option, nothing sent', async () => {
    const p = await startProxy([llmNode({ parts: ['secret answer'] })], { allowPlaintext: false });
    try {
      const res = await fetch(`${p.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'scripted-model',
          messages: [{ role: 'user', content: 'canary-proxy-cx' }],
        }),
      });
      const text = await res.text();
      expect(res.status).toBe(503);
      expect(text).toContain('allowPlaintext');
      expect(text).toContain('IICP-E033');
      expect(p.nodes[0]!.tasks).toHaveLength(0);
    } finally {
      await p.close();
    }
  });
});
