// `await using` needs Symbol.asyncDispose: Node >= 24 (and 20.x/22.x as
// Node's own symbol) have it; elsewhere use the name TypeScript's
// down-levelled `await using` looks up.
// @ts-ignore: read-only where it exists, and then left alone
Symbol.asyncDispose ??= Symbol.for('Symbol.asyncDispose');
