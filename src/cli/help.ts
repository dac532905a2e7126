import type { CommandSpec, GroupSpec, OptionSpecs } from './command.ts';

/** Help text, generated from the same specs the parser uses so the two cannot drift. */

export function commandPath(group: GroupSpec, command: CommandSpec): string {
  return command.name === '' ? `relay ${group.name}` : `relay ${group.name} ${command.name}`;
}

function optionLines(options: OptionSpecs): string[] {
  const rows = Object.entries(options)
    .filter(([, o]) => !o.hidden)
    .map(([name, o]) => {
      const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
      return [flag, o.help] as const;
    });
  rows.push(['-h, --help', 'Show this help.']);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`);
}

export function commandHelp(group: GroupSpec, command: CommandSpec): string {
  const args = (command.args ?? []).map((a) => ` ${a}`).join('');
  return [
    `Usage: ${commandPath(group, command)}${args} [options]`,
    '',
    command.summary,
    ...(command.notes ? ['', command.notes] : []),
    '',
    'Options:',
    ...optionLines(command.options),
    '',
  ].join('\n');
}

export function groupHelp(group: GroupSpec): string {
  const only = group.commands.length === 1 ? group.commands[0] : undefined;
  if (only !== undefined && only.name === '') return commandHelp(group, only);
  const width = Math.max(...group.commands.map((c) => c.name.length));
  return [
    `Usage: relay ${group.name} <command> [options]`,
    '',
    group.summary,
    '',
    'Commands:',
    ...group.commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Run "relay ${group.name} <command> --help" for a command's options.`,
    '',
  ].join('\n');
}

export function topHelp(groups: readonly GroupSpec[]): string {
  const width = Math.max(...groups.map((g) => g.name.length));
  return [
    'Usage: relay <command> [options]',
    '',
    'Relay: the access layer for real API keys.',
    '',
    'Commands:',
    ...groups.map((g) => `  ${g.name.padEnd(width)}  ${g.summary}`),
    '',
    'Settings come from RELAY_* environment variables ("relay config docs" lists them all).',
    'Operator commands act on the default workspace unless --workspace ID is given.',
    'Errors are one line on stderr; exit 1 means the command failed, 2 a usage error.',
    'Set RELAY_DEBUG=1 to print stack traces.',
    '',
    'Run "relay <command> --help" for details.',
    '',
  ].join('\n');
}
