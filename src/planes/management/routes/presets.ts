import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { PRESETS } from '../../../core/presets.ts';
import { PresetView } from '../schemas.ts';

export function presetRoutes(app: FastifyInstance): void {
  app.get(
    '/api/v1/presets',
    {
      config: { access: 'read' },
      schema: {
        tags: ['connections'],
        summary: 'Vendor presets: base URL, injection style, extra headers, a read-only scope template',
        response: { 200: Type.Object({ data: Type.Array(PresetView) }) },
      },
    },
    async () => ({ data: PRESETS }),
  );
}
