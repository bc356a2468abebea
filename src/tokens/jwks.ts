import type { Config } from '../config';
import { type PublicSigningJwk, publicSigningKeys } from './signing-keys';

/** The JSON Web Key Set an app's backend checks verification tokens against (RFC 7517). */
export interface JwksDocument {
  keys: PublicSigningJwk[];
}

/** The JWKS: the current signing key's public key, and the previous one's during a rotation. Throws SigningKeyError like publicSigningKeys. */
export async function jwksDocument(config: Config): Promise<JwksDocument> {
  return { keys: await publicSigningKeys(config) };
}
