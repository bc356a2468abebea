import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import { jwksDocument } from '../../tokens/jwks';
import type { AppEnv } from '../app-env';
import { PUBLIC, tag } from '../openapi-document';
import { ANY_ROUTE, errorResponses, responseHeaders } from '../openapi-responses';
import { withSigningKeys } from '../required-secret';

const JWKS_PATH = '/.well-known/jwks.json';

/** Clients may keep the key set this long: a retired key can still verify tokens for them until then. */
export const JWKS_MAX_AGE_SECONDS = 300;

const PublicJwk = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: z.string(),
  y: z.string(),
  kid: z.string(),
  alg: z.literal('ES256'),
  use: z.literal('sig'),
});

const jwks = createRoute({
  method: 'get',
  path: JWKS_PATH,
  operationId: 'getJwks',
  tags: tag('Tokens'),
  security: PUBLIC,
  summary: 'Public keys of verification tokens (JWKS)',
  description: `The keys an app's backend checks verification tokens with: the current signing key and, during a rotation, the previous one. Cached by clients for ${JWKS_MAX_AGE_SECONDS} s. Without a valid TOKEN_SIGNING_KEY: 500 \`configuration_error\` naming the secret.`,
  responses: {
    200: {
      description: 'The JSON Web Key Set; any origin may read it (CORS `*`)',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ keys: z.array(PublicJwk) }).openapi('Jwks') } },
    },
    ...errorResponses(ANY_ROUTE),
  },
});

export const jwksRoutes = new OpenAPIHono<AppEnv>();

// Public keys only: any origin may read them, without credentials. No other route gets `*`.
jwksRoutes.use(JWKS_PATH, cors({ origin: '*', allowMethods: ['GET'], maxAge: 86400 }));

jwksRoutes.openapi(jwks, async (c) => {
  const document = await withSigningKeys(c.req.path, () => jwksDocument(c.get('config')));
  return c.json(document, 200, { 'Cache-Control': `public, max-age=${JWKS_MAX_AGE_SECONDS}` });
});
