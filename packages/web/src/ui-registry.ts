import type { Router } from 'express';
import type { VNode } from 'preact';
import type { OwnerTab, SettingsPanel as SettingsPanelContract, UiHelpers, UiRegistry, VersionViewInput } from '@forge/core';

export interface SettingsPanel extends SettingsPanelContract {
  type: string;
}

/**
 * What modules contributed to the UI, keyed by package type. The web package reads it
 * when it renders; the host never switches on a type.
 */
export class UiContributions {
  readonly versionViews = new Map<string, (input: VersionViewInput) => Promise<VNode> | VNode>();
  readonly pageMounts = new Map<string, Array<(router: Router, helpers: UiHelpers) => void>>();
  readonly settingsPanels = new Map<string, SettingsPanel>();
  readonly ownerTabs: Array<OwnerTab & { type: string }> = [];
  readonly displayNames = new Map<string, string>();
  readonly styles: string[] = [];
  readonly scripts: string[] = [];

  /** The registry handed to one module during its registration. */
  registryFor(type: string, displayName: string): UiRegistry {
    this.displayNames.set(type, displayName);
    return {
      versionView: (render) => {
        this.versionViews.set(type, render);
      },
      pages: (mount) => {
        const list = this.pageMounts.get(type) ?? [];
        list.push(mount);
        this.pageMounts.set(type, list);
      },
      settingsPanel: (panel) => {
        this.settingsPanels.set(type, { type, render: panel.render.bind(panel), handlePost: panel.handlePost.bind(panel) });
      },
      ownerTab: (tab) => {
        this.ownerTabs.push({ type, label: tab.label, href: tab.href.bind(tab) });
      },
      assets: ({ css, js }) => {
        if (css) this.styles.push(`/* ${type} */\n${css}`);
        if (js) this.scripts.push(`/* ${type} */\n${js}`);
      },
    };
  }
}
