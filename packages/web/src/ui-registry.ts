import type { Request, Router } from 'express';
import type { VNode } from 'preact';
import type { Owner, SettingsPanelInput, UiHelpers, UiPageContext, UiRegistry, VersionViewInput } from '@forge/core';

export interface SettingsPanel {
  type: string;
  render(input: SettingsPanelInput): Promise<VNode> | VNode;
  handlePost(req: Request, ctx: UiPageContext): Promise<void>;
}

/**
 * What modules contributed to the UI, keyed by package type. The web package reads it
 * when it renders; the host never switches on a type.
 */
export class UiContributions {
  readonly versionViews = new Map<string, (input: VersionViewInput) => Promise<VNode> | VNode>();
  readonly pageMounts = new Map<string, Array<(router: Router, helpers: UiHelpers) => void>>();
  readonly settingsPanels = new Map<string, SettingsPanel>();
  readonly ownerLinks = new Map<string, (owner: Owner) => string>();
  readonly displayNames = new Map<string, string>();

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
        this.settingsPanels.set(type, { type, ...panel });
      },
      ownerLink: (href) => {
        this.ownerLinks.set(type, href);
      },
    };
  }
}
