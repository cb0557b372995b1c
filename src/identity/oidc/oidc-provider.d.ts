/** Minimal typings for oidc-provider@9 (the package ships none); only what Portcullis uses. */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface InteractionDetails {
    uid: string;
    prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
    params: Record<string, unknown>;
    session?: { accountId?: string; uid: string; cookie: string; acr?: string; amr?: string[] };
    grantId?: string;
    lastSubmission?: Record<string, unknown>;
    returnTo: string;
    exp: number;
  }

  export class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    readonly issuer: string;
    proxy: boolean;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionResult(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<string>;
    interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
    on(event: string, listener: (...args: any[]) => void): this;
    Client: { prototype: { compareClientSecret(actual: string): boolean | Promise<boolean>; clientSecret?: string } };
    /** The per-request context (`ctx.oidc`); `route` is the name of the endpoint being served. */
    readonly OIDCContext: { prototype: { clientJwtAuthExpectedAudience(this: { route: string }): Set<string> } };
    Grant: new (init: { accountId: string; clientId: string }) => {
      addOIDCScope(scope: string): void;
      addResourceScope(resource: string, scope: string): void;
      save(): Promise<string>;
    };
    [key: string]: any;
  }

  export const errors: Record<string, new (description?: string, detail?: string) => Error>;
  export const interactionPolicy: {
    base(): { get(name: string): { checks: { add(check: unknown): void } } } & unknown[];
    Check: {
      new (reason: string, description: string, check: (ctx: any) => boolean | Promise<boolean>): unknown;
      /** `error`: what a prompt=none request gets when the check asks for the prompt. */
      new (reason: string, description: string, error: string, check: (ctx: any) => boolean | Promise<boolean>): unknown;
    };
    Prompt: unknown;
  };
  export default Provider;
}
