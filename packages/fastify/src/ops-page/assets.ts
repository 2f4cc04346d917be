// The page's scripts and stylesheets as files under `<prefix>/assets/`, so the Content-Security-Policy can allow
// 'self' and nothing inline: the page's own, and uPlot's (read from node_modules once, at registration). Their
// tags are weak: the same bytes go out as br, gzip or as they are (ops-page.ts), each another representation.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import { bytesEtag } from '../http-cache.ts';
import { pageScript } from './page-script.ts';
import { pageStyle } from './page-style.ts';

interface Asset {
  body: string;
  type: string;
  etag: string;
}

/**
 * Registers `GET assets/page.js`, `page.css`, `uplot.js` and `uplot.css` in `scope`: weak ETags, `no-cache`
 * (revalidated each load, a 304 when unchanged), no session needed (the sign-in form uses the stylesheet;
 * nothing in them is secret).
 *
 * @example
 * opsAssets(scope);
 */
export function opsAssets(scope: FastifyInstance): void {
  const require = createRequire(import.meta.url);
  const uplot = (file: string) => readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
  // Weak: the tag stands for the bytes in any content coding the page's compression sends them in.
  const asset = (body: string, type: string): Asset => ({ body, type, etag: `W/${bytesEtag(body)}` });
  const script = 'text/javascript; charset=utf-8';
  const style = 'text/css; charset=utf-8';
  const assets: Record<string, Asset> = {
    'page.js': asset(pageScript, script),
    'page.css': asset(pageStyle, style),
    'uplot.js': asset(uplot('uPlot.iife.min.js'), script),
    'uplot.css': asset(uplot('uPlot.min.css'), style),
  };
  for (const [file, { body, type, etag }] of Object.entries(assets)) {
    // The plugin's httpCache hook answers If-None-Match with a 304 and keeps this ETag.
    scope.get(`/assets/${file}`, { config: { httpCache: { scope: 'public' } } }, (_request, reply) =>
      reply.type(type).header('etag', etag).send(body),
    );
  }
}
