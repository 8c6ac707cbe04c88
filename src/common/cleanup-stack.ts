/**
 * A LIFO stack of async clean-ups, as `AsyncDisposableStack` (absent on Node 20). Every clean-up
 * runs even when an earlier one throws; the errors come back together as one `AggregateError`.
 *
 * @example
 * await using stack = new CleanupStack();
 * const dir = await mkdtemp(...); stack.defer(() => rm(dir, { recursive: true, force: true }));
 */
export class CleanupStack implements AsyncDisposable {
  #steps: Array<() => unknown> = [];
  #disposed = false;

  /** Registers `step` to run at dispose time, before every step registered earlier. */
  defer(step: () => unknown): void {
    if (this.#disposed) throw new Error('CleanupStack is already disposed');
    this.#steps.push(step);
  }

  /** Registers an AsyncDisposable (or Disposable) and returns it. */
  use<T extends AsyncDisposable | Disposable>(resource: T): T {
    this.defer(() =>
      Symbol.asyncDispose in resource ? resource[Symbol.asyncDispose]() : (resource as Disposable)[Symbol.dispose](),
    );
    return resource;
  }

  /** Hands the registered steps to a new stack (the caller keeps the resources alive). */
  move(): CleanupStack {
    const next = new CleanupStack();
    next.#steps = this.#steps;
    this.#steps = [];
    return next;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const errors: unknown[] = [];
    for (const step of this.#steps.reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    this.#steps = [];
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} clean-up steps failed`);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
