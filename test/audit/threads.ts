import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadInfo {
  readonly tid: number;
  readonly name: string;
  readonly nice: number;
}

/** This process's threads with their names and nice values (Linux: /proc/self/task). */
export function threads(): ThreadInfo[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, nice is field 19.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      tid: Number(tid),
      name: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(),
      nice: Number(fields[16]),
    };
  });
}
