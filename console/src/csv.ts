// CSV export of a list: every matching row (pages followed on the server's
// Link headers, up to CSV_MAX_ROWS), saved as a file, and what was saved said.
import { CSV_MAX_ROWS, getCsv } from './api';
import { fmtNumber } from './format';
import { download, notice, type MessageArea } from './ui';

export async function exportCsv(path: string, filename: string, messages: MessageArea): Promise<void> {
  try {
    const csv = await getCsv(path);
    download(csv.blob, filename);
    if (csv.complete) {
      messages.success('CSV exported', `${fmtNumber(csv.rows)} row${csv.rows === 1 ? '' : 's'} saved as ${filename}.`);
    } else {
      messages.show(notice('warning', `Only the first ${fmtNumber(csv.rows)} rows were saved as ${filename}`,
        `More than ${fmtNumber(CSV_MAX_ROWS)} rows match: narrow the filters (a shorter time range, one user) to export the rest.`));
    }
  } catch (err) {
    messages.error(err);
  }
}
