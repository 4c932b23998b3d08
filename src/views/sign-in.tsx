/** The sign-in page: the dashboard is opened with an API token. */

export function SignInPage({ next, error }: { next: string; error?: string }) {
  return (
    <article class="standalone-form sign-in">
      <h1>Sign in</h1>
      <p class="muted">Use an API token (one of <code>API_TOKENS</code>). Locally, it is in <code>config/local.env</code>.</p>
      {error ? (
        <p class="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <form method="post" action="/login">
        <input type="hidden" name="next" value={next} />
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus />
        <button type="submit">Sign in</button>
      </form>
    </article>
  );
}
