import { adminAuditView } from '../../planes/management/present.ts';
import { type CommandSpec, type GroupSpec, OPERATOR_OPTIONS } from '../command.ts';
import { allPages, withOperator } from '../install.ts';

const list: CommandSpec = {
  name: 'list',
  summary: 'Admin actions (who changed what), oldest first',
  options: OPERATOR_OPTIONS,
  run: (ctx) =>
    withOperator(ctx, async ({ relay, workspaceId }) => {
      const rows = (await allPages((o) => relay.store.adminAudit.list(workspaceId, o))).map(adminAuditView);
      if (ctx.flags.bool('json')) ctx.out.json(rows);
      else
        ctx.out.table(
          rows,
          [
            ['at', 'AT'],
            ['actor', 'ACTOR'],
            ['action', 'ACTION'],
            ['subject', 'SUBJECT'],
            ['ip', 'IP'],
          ],
          'No admin actions.',
        );
      return 0;
    }),
};

export const adminAuditGroup: GroupSpec = {
  name: 'admin-audit',
  summary: 'The admin audit log',
  commands: [list],
};
