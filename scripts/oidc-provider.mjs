// A small OpenID Connect provider on loopback, for the test suite (and for trying sign-in by hand).
//
//   OIDC_PROVIDER_CONFIG='{"clients": [...], "accounts": {...}}' node scripts/oidc-provider.mjs
//
// Built on the npm package oidc-provider (a certified implementation, a devDependency in
// package.json). It listens on 127.0.0.1 on a free port (or $PORT) and prints one JSON line,
// {"issuer": "http://127.0.0.1:PORT"}, once it answers. The configuration, as JSON:
//
//   clients:  oidc-provider client metadata, e.g. {"client_id": "portal", "client_secret": "...",
//             "redirect_uris": [...], "post_logout_redirect_uris": [...],
//             "token_endpoint_auth_method": "client_secret_post"}
//   accounts: {"<login>": {"password": "...", "claims": {"email": ..., "groups": [...], ...}}}
//
// Its own sign-in page checks the account's password. Consent is implied for these first-party
// clients, and sign-out with an id_token_hint needs no confirmation (as in Keycloak).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const { clients = [], accounts = {} } = JSON.parse(process.env.OIDC_PROVIDER_CONFIG || '{}');

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body><h1>${escape(title)}</h1>${body}</body></html>`;
}

function loginPage(uid, error = '') {
  return page('Test provider: sign in', `${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
  <label>Username <input name="login" autocomplete="username" required autofocus></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">Log in</button>
</form>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

function send(res, status, html) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(html);
}

// The login and consent steps of the authorization flow: /interaction/<uid>[/login].
async function interaction(provider, req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'POST') {
    const form = await readForm(req);
    const account = accounts[form.get('login')];
    if (!account || account.password !== form.get('password')) {
      send(res, 200, loginPage(uid, 'Invalid username or password.'));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: form.get('login') } }, {
      mergeWithLastSubmission: false,
    });
    return;
  }
  if (details.prompt.name === 'login') {
    send(res, 200, loginPage(uid));
    return;
  }
  // consent: granted to these first-party clients without asking.
  const { missingOIDCScope = [], missingOIDCClaims = [] } = details.prompt.details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope(missingOIDCScope.join(' '));
  grant.addOIDCClaims(missingOIDCClaims);
  await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, {
    mergeWithLastSubmission: true,
  });
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

const configuration = {
  clients,
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' }] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name', 'given_name', 'family_name', 'groups', 'orcid'],
  },
  async findAccount(ctx, id) {
    const account = accounts[id];
    return account && { accountId: id, claims: async () => ({ sub: id, ...account.claims }) };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      // Confirms on its own: the hidden xsrf form is submitted with logout=yes.
      async logoutSource(ctx, form) {
        ctx.body = page('Signing out', `${form}<input type="hidden" name="logout" value="yes" form="op.logoutForm">
<script>document.getElementById('op.logoutForm').submit()</script>`);
      },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Test provider: error', `<pre>${escape(JSON.stringify(out, null, 2))}</pre>`);
  },
};

const server = createServer();
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  const callback = provider.callback();
  server.on('request', (req, res) => {
    const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(new URL(req.url, issuer).pathname);
    if (!match) {
      callback(req, res);
      return;
    }
    interaction(provider, req, res, match[1]).catch((error) => {
      console.error(error);
      send(res, 400, page('Test provider: error', `<pre>${escape(error.message)}</pre>`));
    });
  });
  console.log(JSON.stringify({ issuer }));
});
