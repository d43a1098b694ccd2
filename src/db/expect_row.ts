/**
 * The row a statement always returns (INSERT … RETURNING, a SELECT over a constant): if it is
 * missing, that is a bug, and the error says which statement.
 */
export function expectRow<R>(rows: R[], statement: string): R {
  const [row] = rows;
  if (row === undefined) throw new Error(`${statement} returned no row`);
  return row;
}
