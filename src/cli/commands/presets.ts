import { PRESETS } from '../../core/presets.ts';
import { type CommandSpec, type GroupSpec, JSON_OPTION } from '../command.ts';

const list: CommandSpec = {
  name: 'list',
  summary: 'Vendor presets: base URL, injection style, read-only scope template',
  options: { ...JSON_OPTION },
  async run(ctx) {
    if (ctx.flags.bool('json')) ctx.out.json(PRESETS);
    else
      ctx.out.table(
        PRESETS.map((p) => ({
          id: p.id,
          name: p.name,
          base_url: p.base_url,
          auth: p.auth.header_name ? `${p.auth.type} (${p.auth.header_name})` : p.auth.type,
          read_only: `${p.read_only_scope.allowed_methods.join(',')} ${p.read_only_scope.allowed_paths.join(' ')}`,
        })),
        [
          ['id', 'PRESET'],
          ['name', 'NAME'],
          ['base_url', 'BASE URL'],
          ['auth', 'AUTH'],
          ['read_only', 'READ-ONLY SCOPE'],
        ],
        'No presets.',
      );
    return 0;
  },
};

export const presetsGroup: GroupSpec = {
  name: 'presets',
  summary: 'Vendor presets for connections',
  commands: [list],
};
