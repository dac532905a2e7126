import { configurationDoc } from '../../config.ts';
import type { CommandSpec, GroupSpec } from '../command.ts';

const docs: CommandSpec = {
  name: 'docs',
  summary: 'Print every setting with its default, as Markdown (docs/configuration.md)',
  options: {},
  notes: 'Regenerate the docs page with:  relay config docs > docs/configuration.md',
  async run({ io }) {
    // Written as is: the page already ends with a newline.
    io.stdout.write(configurationDoc());
    return 0;
  },
};

export const configGroup: GroupSpec = {
  name: 'config',
  summary: 'Configuration reference',
  commands: [docs],
};
