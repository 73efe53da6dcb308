// The admin dashboard, its JSON data and its live stream: for the admin user only.
import { type RequestHandler, Router } from 'express';
import type { RenderPage } from '../render.js';
import { type DashboardSources, dashboardData } from '../shop/dashboard-data.js';
import { dashboardPage } from '../views/admin.js';
import { forbiddenPage } from '../views/errors.js';

export function adminPages(sources: DashboardSources, render: RenderPage): Router {
  const router = Router();

  const requireAdmin: RequestHandler = (req, res, next) => {
    if (req.session.user?.role === 'admin' && req.session.userId) return next();
    if (!req.session.userId) return res.redirect(303, `/signin?next=${encodeURIComponent(req.originalUrl)}`);
    render(req, res, {
      title: 'Not allowed',
      body: forbiddenPage('The dashboard is for the shop admin.'),
      status: 403,
    }).catch(next);
  };

  router.use('/admin', requireAdmin);
  router.get('/admin', async (req, res) => {
    await render(req, res, { title: 'Dashboard', body: dashboardPage() });
  });
  router.get('/admin/data.json', async (_req, res) => {
    res.set('Cache-Control', 'no-store').json(await dashboardData(sources));
  });
  router.get('/admin/live', sources.views.live());
  return router;
}
